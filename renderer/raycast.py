"""Ray-cast rendering of triangle-mesh worlds with open3d's `RaycastingScene`.

A `MeshWorld` is one triangle soup with per-face attributes (material, base colour, label,
instance). `raycast` renders it from a `Camera`: RGB with procedural solid textures (wood
grain, fabric weave, brick, grass, stone, water, checker), Lambert diffuse plus ambient light, cast
shadows from point lights and a sun, a sky; metric z depth; world normals; label and instance
ids per pixel. Emissive faces (material "light") are drawn at full brightness.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .camera import Camera
from .errors import ArgumentError

import functools

SKY_LABEL = 4  # renderer.layout.LABELS.index("sky")
# Per-material (ambient boost, specular-ish sky mix) and texture kind.
TEXTURES = ["plaster", "wood", "fabric", "smooth", "glass", "noise", "bark", "brick", "grass", "water", "emissive",
            "checker"]
TEXTURE_IDS = {name: i for i, name in enumerate(TEXTURES)}
MATERIAL_TEXTURE = {"paint": "plaster", "wood": "wood", "fabric": "fabric", "metal": "smooth", "plastic": "smooth",
                    "glass": "glass", "screen": "smooth", "leaf": "noise", "bark": "bark", "stone": "noise",
                    "brick": "brick", "grass": "grass", "water": "water", "ceramic": "smooth", "paper": "smooth",
                    "light": "emissive", "checker": "checker"}
CHECKER_SIZE = 0.2  # metres: the "checker" texture's squares (a lifting benchmark's high-frequency case)


@dataclass
class Light:
    position: tuple[float, float, float] | None = None  # a point light ...
    direction: tuple[float, float, float] | None = None  # ... or a directional one (pointing from the light)
    intensity: float = 1.0
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    falloff: float = 0.0  # point lights: intensity / (1 + falloff * d^2)


@dataclass
class MeshWorld:
    """vertices [V, 3] float32; faces [F, 3] int32; per face: material [F] (names index `materials`),
    rgb [F, 3] float32, label [F] int32, instance [F] int32 (0 = structure)."""

    vertices: np.ndarray
    faces: np.ndarray
    material: np.ndarray
    rgb: np.ndarray
    label: np.ndarray
    instance: np.ndarray
    materials: list[str]
    lights: list[Light] = field(default_factory=list)
    ambient: float = 0.35
    sky: bool = True
    threads: int = 0  # ray-casting threads; 0 = all cores. 1 suits one process per core (data loaders).
    _scene: object = field(default=None, repr=False)

    @classmethod
    def from_parts(cls, parts, materials: list[str], **kw) -> "MeshWorld":
        """parts: iterable of (trimesh.Trimesh, material name, rgb, label id, instance id)."""
        vs, fs, mat, rgb, lab, inst = [], [], [], [], [], []
        offset = 0
        index = {m: i for i, m in enumerate(materials)}
        for mesh, material, color, label, instance in parts:
            v = np.asarray(mesh.vertices, np.float32)
            f = np.asarray(mesh.faces, np.int64) + offset
            offset += len(v)
            n = len(f)
            vs.append(v), fs.append(f)
            mat.append(np.full(n, index[material], np.int32))
            rgb.append(np.broadcast_to(np.asarray(color, np.float32), (n, 3)))
            lab.append(np.full(n, label, np.int32)), inst.append(np.full(n, instance, np.int32))
        return cls(np.concatenate(vs), np.concatenate(fs).astype(np.int32), np.concatenate(mat), np.concatenate(rgb),
                   np.concatenate(lab), np.concatenate(inst), list(materials), **kw)

    @property
    def scene(self):
        """The open3d ray-casting BVH, built once."""
        if self._scene is None:
            import open3d as o3d

            scene = o3d.t.geometry.RaycastingScene()
            scene.add_triangles(o3d.core.Tensor(self.vertices), o3d.core.Tensor(self.faces.astype(np.uint32)))
            self._scene = scene
        return self._scene

    @functools.cached_property
    def face_texture(self) -> np.ndarray:
        """[F] index into TEXTURES of each face's procedural texture."""
        per_material = np.array([TEXTURES.index(MATERIAL_TEXTURE.get(m, "smooth")) for m in self.materials], np.int8)
        return per_material[self.material]

    @property
    def num_triangles(self) -> int:
        return len(self.faces)


@functools.lru_cache(maxsize=16)
def _camera_space_dirs(fx: float, fy: float, cx: float, cy: float, w: int, h: int) -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32) + 0.5, np.arange(h, dtype=np.float32) + 0.5)
    return np.stack([(xs - cx) / fx, (ys - cy) / fy, np.ones_like(xs)], -1).reshape(-1, 3)


def camera_rays(camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel origins and directions [H*W, 3]; directions have camera-z = 1, so t is depth."""
    K = camera.K.numpy()
    d_cam = _camera_space_dirs(float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]), camera.width, camera.height)
    c2w = camera.c2w.numpy()
    d = d_cam @ c2w[:3, :3].T
    return np.broadcast_to(c2w[:3, 3], d.shape), d


def _rays(o: np.ndarray, d: np.ndarray):
    import open3d as o3d

    rays = np.empty((len(d), 6), np.float32)
    rays[:, :3], rays[:, 3:] = o, d
    return o3d.core.Tensor.from_numpy(rays)  # shares memory: no copy, no OpenMP loop


def _occluded(world: MeshWorld, points: np.ndarray, to_light: np.ndarray, tfar: float) -> np.ndarray:
    """Whether anything lies between each point and the light, along to_light scaled so the
    light sits at t = 1 (point lights) or at t = tfar (directional)."""
    return world.scene.test_occlusions(_rays(points, to_light), tnear=0.0, tfar=tfar, nthreads=world.threads).numpy()


def _texture(kind_ids: np.ndarray, p: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Brightness factor [M] from 3D solid textures at hit points p [M, 3] with normals n;
    kind_ids [M] index TEXTURES."""
    f = np.ones(len(p), np.float32)
    x, y, z = np.ascontiguousarray(p.T)  # contiguous columns: masked gathers are much cheaper
    m = kind_ids == TEXTURE_IDS["wood"]
    if m.any():  # rings around a vertical-ish axis, wobbling
        r = np.sqrt((x[m] * 0.7 + y[m] * 0.3) ** 2 + (z[m] * 0.2) ** 2) * 25 + 2 * np.sin(z[m] * 3 + x[m] * 2)
        f[m] = 0.82 + 0.18 * (0.5 + 0.5 * np.sin(r)) ** 3
    m = kind_ids == TEXTURE_IDS["fabric"]
    if m.any():
        f[m] = 0.9 + 0.1 * np.sign(np.sin(x[m] * 350) * np.sin(y[m] * 350 + z[m] * 350))
    m = kind_ids == TEXTURE_IDS["brick"]
    if m.any():  # running bond on the face's tangent plane
        horizontal = np.abs(n[:, 0][m]) > np.abs(n[:, 1][m])
        u = np.where(horizontal, y[m], x[m])
        row = np.floor(z[m] / 0.075)
        uu = (u + 0.11 * (row % 2)) / 0.22
        mortar = ((z[m] / 0.075) % 1 < 0.12) | ((uu % 1) < 0.05)
        f[m] = np.where(mortar, 1.45, 0.9 + 0.1 * np.sin(row * 12.9898 + np.floor(uu) * 78.233))
    m = kind_ids == TEXTURE_IDS["checker"]
    if m.any():  # squares in the face's own plane: the axis along the normal does not count
        q = np.floor(p[m] / CHECKER_SIZE).astype(np.int64)
        q[np.arange(len(q)), np.abs(n[m]).argmax(1)] = 0
        f[m] = np.where(q.sum(1) % 2 == 0, np.float32(1.0), np.float32(0.4))
    for name, freq, amp in (("grass", 9.0, 0.22), ("noise", 4.0, 0.15), ("bark", 14.0, 0.25), ("plaster", 2.0, 0.04)):
        m = kind_ids == TEXTURE_IDS[name]
        if m.any():
            qx, qy, qz = x[m] * freq, y[m] * freq, z[m] * freq
            g = (np.sin(qx * 1.7 + np.sin(qy * 2.3)) * np.sin(qy * 1.3 + np.sin(qz * 1.9))
                 + 0.5 * np.sin(qx * 5.1 + qy * 3.7 + qz * 4.3))
            f[m] = 1.0 + amp * g / 1.5
    return f


def sky_color(d: np.ndarray) -> np.ndarray:
    """Gradient sky for unit directions [..., 3]: pale at the horizon, deeper blue above."""
    up = np.clip(d[..., 2:3], -0.2, 1.0)
    horizon, zenith = np.array([0.82, 0.88, 0.95], np.float32), np.array([0.35, 0.55, 0.88], np.float32)
    t = np.sqrt(np.clip(up, 0, 1))
    return (horizon * (1 - t) + zenith * t).astype(np.float32)


def raycast(world: MeshWorld, camera: Camera, shadows: bool = True, textured: bool = True,
            samples_per_pixel: int = 1) -> dict[str, np.ndarray]:
    """Render a MeshWorld. Returns rgb [H, W, 3] float32 in [0, 1], depth [H, W] float32 (metric z,
    0 for sky), normal [H, W, 3] (world, facing the camera), label [H, W] int32 (sky = 4 where a sky
    is drawn, else -1), instance [H, W] int32 (-1 for sky). `textured=False` gives flat colours.

    `samples_per_pixel = s > 1` anti-aliases the colour: rgb is the mean of an s x s grid of sub-pixel
    rays (a box filter, as a camera sensor integrates), while depth, normal, label and instance stay
    the pixel-centre ray's, so geometry is never a blend of two surfaces. Costs about 1 + s^2 renders."""
    if not isinstance(samples_per_pixel, int) or samples_per_pixel < 1:
        raise ArgumentError(f"samples_per_pixel must be a positive int, got {samples_per_pixel!r}")
    out = _raycast_once(world, camera, shadows, textured)
    if samples_per_pixel > 1:
        s, h, w = samples_per_pixel, camera.height, camera.width
        fine = _raycast_once(world, camera.scaled(w * s, h * s), shadows, textured)["rgb"]
        out["rgb"] = fine.reshape(h, s, w, s, 3).mean((1, 3), dtype=np.float32)
    return out


def _raycast_once(world: MeshWorld, camera: Camera, shadows: bool, textured: bool) -> dict[str, np.ndarray]:
    h, w = camera.height, camera.width
    out = _shade(world, *camera_rays(camera), shadows, textured)
    return {k: v.reshape(h, w, *v.shape[1:]) for k, v in out.items()}


def panorama_rays(position, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Origins and unit directions [W/2 * W, 3] of an equirectangular panorama `width` pixels wide
    seen from `position`: row 0 the zenith, the centre column along +X, columns to the right turning
    right (towards -Y), as panorama viewers show them."""
    h = width // 2
    az = np.pi - 2 * np.pi * (np.arange(width, dtype=np.float64) + 0.5) / width
    polar = np.pi * (np.arange(h, dtype=np.float64) + 0.5) / h
    a, p = np.meshgrid(az, polar)
    d = np.stack([np.sin(p) * np.cos(a), np.sin(p) * np.sin(a), np.cos(p)], -1).reshape(-1, 3).astype(np.float32)
    return np.broadcast_to(np.asarray(position, np.float32), d.shape), d


def raycast_panorama(world: MeshWorld, position, width: int, shadows: bool = True,
                     textured: bool = True) -> dict[str, np.ndarray]:
    """An equirectangular panorama (`panorama_rays`) of a MeshWorld: rgb [W/2, W, 3], distance [W/2, W]
    along each ray (0 for sky), label [W/2, W]."""
    if not isinstance(width, int) or width < 4 or width % 2:
        raise ArgumentError(f"a panorama's width must be an even integer of at least 4, got {width!r}")
    out = _shade(world, *panorama_rays(position, width), shadows, textured)
    return {"rgb": out["rgb"].reshape(width // 2, width, 3), "distance": out["depth"].reshape(width // 2, width),
            "label": out["label"].reshape(width // 2, width)}


def _shade(world: MeshWorld, o: np.ndarray, d: np.ndarray, shadows: bool, textured: bool) -> dict[str, np.ndarray]:
    """Cast rays o + t d [N, 3] -> per ray rgb, t ("depth": depth for camera rays with camera-z = 1,
    distance for unit rays), normal, label, instance."""
    hit = world.scene.cast_rays(_rays(o, d), nthreads=world.threads)
    t = hit["t_hit"].numpy()
    valid = np.isfinite(t)
    all_hit = bool(valid.all())
    # Shade every pixel (misses with t = 0 and face 0) and mask at the end: cheaper than
    # compacting when most rays hit, as they do indoors.
    ids = hit["primitive_ids"].numpy().astype(np.int64)
    if not all_hit:
        t = np.where(valid, t, 0.0).astype(np.float32)
        ids[~valid] = 0
    n = hit["primitive_normals"].numpy()
    n *= np.where(np.einsum("ij,ij->i", n, d) > 0, np.float32(-1), np.float32(1))[:, None]  # face the camera
    p = o + d * t[:, None]

    base = np.take(world.rgb, ids, axis=0)
    kind = np.take(world.face_texture, ids)
    albedo = base * _texture(kind, p, n)[:, None] if textured else base

    light_sum = np.full((len(ids), 3), world.ambient, np.float32)
    origin = p + n * np.float32(2e-3)
    for light in world.lights:
        if light.direction is not None:
            to_l = -np.asarray(light.direction, np.float32)
            to_l = np.broadcast_to(to_l / np.linalg.norm(to_l), p.shape)
            ray, tfar, atten = to_l, 1e4, np.float32(1.0)
        else:
            ray = np.asarray(light.position, np.float32) - origin  # the light at t = 1
            dist2 = np.einsum("ij,ij->i", ray, ray)
            to_l = ray / np.sqrt(np.maximum(dist2, 1e-12))[:, None]
            tfar, atten = 0.999, (1.0 / (1.0 + light.falloff * dist2)).astype(np.float32)
        lambert = np.maximum(np.einsum("ij,ij->i", n, to_l), 0) * atten
        if shadows:
            lit = np.nonzero((lambert > 0) & valid)[0]
            if len(lit):
                blocked = _occluded(world, origin[lit], np.ascontiguousarray(ray[lit]), tfar)
                lambert[lit[blocked]] = 0.0
        light_sum += lambert[:, None] * (light.intensity * np.asarray(light.color, np.float32))

    color = albedo * light_sum
    emissive = kind == TEXTURE_IDS["emissive"]
    if emissive.any():
        color[emissive] = base[emissive]
    if world.sky:  # glass and water reflect some sky
        for name, mix in (("glass", 0.45), ("water", 0.35)):
            m = (kind == TEXTURE_IDS[name]) & valid
            if m.any():
                refl = d[m] - 2 * (d[m] * n[m]).sum(1, keepdims=True) * n[m]
                refl /= np.linalg.norm(refl, axis=1, keepdims=True)
                color[m] = (1 - mix) * color[m] + mix * sky_color(refl)
    np.clip(color, 0, 1, out=color)
    label = np.take(world.label, ids)
    instance = np.take(world.instance, ids)
    if not all_hit:
        miss = ~valid
        if world.sky:
            dn = d[miss]
            color[miss] = sky_color(dn / np.linalg.norm(dn, axis=1, keepdims=True))
        else:
            color[miss] = 0.0
        n[miss] = 0.0
        label[miss] = SKY_LABEL if world.sky else -1
        instance[miss] = -1
    return {"rgb": color, "depth": t, "normal": n, "label": label, "instance": instance}
