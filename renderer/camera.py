"""Pinhole cameras in the OpenCV convention (x right, y down, z forward), world +Z up, metres.

A `Camera` is one view: intrinsics `K` [3, 3] in pixels, camera-to-world `c2w` [4, 4], and the
image size `(width, height)`. Batches of cameras are plain lists; `stack_cameras` turns a list
into the `Ks [C, 3, 3]` and `viewmats [C, 4, 4]` (world-to-camera) that rasterisers take.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from .errors import WorldgenError

WORLD_UP = (0.0, 0.0, 1.0)
MAX_SIDE = 1 << 16  # pixels on one side of a camera image read from a file


class CameraError(WorldgenError):
    """A camera that cannot be used: bad shapes, non-finite values, a non-invertible pose."""


@dataclass(frozen=True, eq=False)
class Camera:
    K: Tensor  # [3, 3] float32, pixels
    c2w: Tensor  # [4, 4] float32, OpenCV axes
    width: int
    height: int

    def __post_init__(self) -> None:
        K = torch.as_tensor(self.K, dtype=torch.float32)
        c2w = torch.as_tensor(self.c2w, dtype=torch.float32)
        if K.shape != (3, 3):
            raise CameraError(f"K must be 3x3, got shape {tuple(K.shape)}")
        if c2w.shape != (4, 4):
            raise CameraError(f"c2w must be 4x4, got shape {tuple(c2w.shape)}")
        if not (torch.isfinite(K).all() and torch.isfinite(c2w).all()):
            raise CameraError("camera has NaN or infinite values")
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise CameraError(f"image size must be positive, got {self.width}x{self.height}")
        if K[0, 0] <= 0 or K[1, 1] <= 0:
            raise CameraError(f"focal lengths must be positive, got fx={K[0, 0]:.4g} fy={K[1, 1]:.4g}")
        R = c2w[:3, :3].double()
        if abs(float(torch.linalg.det(R)) - 1.0) > 1e-3 or not torch.allclose(
            R @ R.T, torch.eye(3, dtype=R.dtype), atol=1e-3
        ):
            raise CameraError("c2w rotation is not orthonormal with determinant +1 (non-invertible or mirrored pose)")
        if not torch.equal(c2w[3], torch.tensor([0.0, 0.0, 0.0, 1.0])):
            raise CameraError("c2w last row must be [0, 0, 0, 1]")
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "c2w", c2w)
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))

    # ---- construction -------------------------------------------------------------------
    @staticmethod
    def intrinsics_from_fov(fov_y_deg: float, width: int, height: int) -> Tensor:
        """Square-pixel pinhole K with the principal point at the image centre."""
        if not 0.0 < fov_y_deg < 180.0:
            raise CameraError(f"vertical field of view must be in (0, 180) degrees, got {fov_y_deg}")
        f = 0.5 * int(height) / math.tan(math.radians(fov_y_deg) / 2)
        return torch.tensor([[f, 0.0, int(width) / 2], [0.0, f, int(height) / 2], [0.0, 0.0, 1.0]])

    @classmethod
    def look_at(
        cls,
        eye: Sequence[float] | Tensor,
        target: Sequence[float] | Tensor,
        *,
        width: int,
        height: int,
        fov_y_deg: float = 60.0,
        up: Sequence[float] = WORLD_UP,
    ) -> "Camera":
        """A camera at `eye` whose optical axis points at `target`, with `up` above the image."""
        return cls(cls.intrinsics_from_fov(fov_y_deg, width, height), look_at_c2w(eye, target, up), width, height)

    @classmethod
    def orbit(
        cls,
        center: Sequence[float] | Tensor,
        distance: float,
        azimuth_deg: float,
        elevation_deg: float,
        *,
        width: int,
        height: int,
        fov_y_deg: float = 60.0,
    ) -> "Camera":
        """A camera on a sphere around `center` (azimuth from +X towards +Y, elevation above the XY plane)."""
        if not distance > 0:
            raise CameraError(f"orbit distance must be positive, got {distance}")
        az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
        c = torch.as_tensor(center, dtype=torch.float32)
        offset = torch.tensor([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
        return cls.look_at(c + distance * offset, c, width=width, height=height, fov_y_deg=fov_y_deg)

    # ---- derived quantities ---------------------------------------------------------------
    @property
    def w2c(self) -> Tensor:
        """World-to-camera [4, 4], the `viewmat` of gsplat (exact rigid inverse)."""
        R, t = self.c2w[:3, :3], self.c2w[:3, 3]
        w2c = torch.eye(4)
        w2c[:3, :3] = R.T
        w2c[:3, 3] = -R.T @ t
        return w2c

    @property
    def position(self) -> Tensor:
        return self.c2w[:3, 3]

    @property
    def forward(self) -> Tensor:
        return self.c2w[:3, 2]

    def scaled(self, width: int, height: int) -> "Camera":
        """The same view at another image size (intrinsics scaled per axis)."""
        K = self.K.clone()
        K[0] *= width / self.width
        K[1] *= height / self.height
        return Camera(K, self.c2w, width, height)

    def project(self, points: Tensor) -> tuple[Tensor, Tensor]:
        """World points [N, 3] -> pixel coordinates [N, 2] (pixel centres at +0.5) and depth z [N]."""
        uv, z = project_points(points, self.K[None], self.w2c[None])
        return uv[0], z[0]

    def rays(self) -> tuple[Tensor, Tensor]:
        """Per-pixel ray origins and unit directions in the world, both [H, W, 3]."""
        ys, xs = torch.meshgrid(
            torch.arange(self.height, dtype=torch.float32) + 0.5,
            torch.arange(self.width, dtype=torch.float32) + 0.5,
            indexing="ij",
        )
        pix = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1)  # [H, W, 3]
        dirs_cam = pix @ torch.linalg.inv(self.K).T
        dirs = torch.nn.functional.normalize(dirs_cam @ self.c2w[:3, :3].T, dim=-1)
        origins = self.position.expand_as(dirs)
        return origins, dirs

    def plucker(self) -> Tensor:
        """Plücker ray embedding [H, W, 6] = (d, o x d) per pixel, d a unit world direction."""
        o, d = self.rays()
        return torch.cat([d, torch.cross(o, d, dim=-1)], dim=-1)

    # ---- (de)serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "K": self.K.tolist(),
            "c2w": self.c2w.tolist(),
            "convention": "opencv",
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Camera":
        if not isinstance(d, dict):
            raise CameraError(f"camera must be a JSON object, got {type(d).__name__}")
        missing = [k for k in ("width", "height", "K", "c2w") if k not in d]
        if missing:
            raise CameraError(f"camera is missing {', '.join(missing)}")
        if d.get("convention", "opencv") != "opencv":
            raise CameraError(f"camera convention must be 'opencv', got {d['convention']!r}")
        try:
            K = torch.tensor(d["K"], dtype=torch.float32)
            c2w = torch.tensor(d["c2w"], dtype=torch.float32)
        except (TypeError, ValueError) as e:
            raise CameraError(f"camera K/c2w are not numeric matrices: {e}") from None
        size = (d["width"], d["height"])
        if any(type(v) is not int or not 1 <= v <= MAX_SIDE for v in size):
            raise CameraError(f"camera width and height must be whole numbers in 1..{MAX_SIDE}, got {size!r}"[:200])
        return cls(K, c2w, *size)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "Camera":
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise CameraError(f"camera JSON does not parse: {e}") from None


def look_at_c2w(eye, target, up=WORLD_UP) -> Tensor:
    """OpenCV camera-to-world [4, 4] at `eye` looking at `target`; image up is along `up`."""
    eye = torch.as_tensor(eye, dtype=torch.float64)
    target = torch.as_tensor(target, dtype=torch.float64)
    up_v = torch.as_tensor(up, dtype=torch.float64)
    forward = target - eye
    if forward.norm() < 1e-9:
        raise CameraError("look-at eye and target coincide")
    forward = forward / forward.norm()
    right = torch.linalg.cross(forward, up_v)
    if right.norm() < 1e-6:  # looking straight along `up`: any perpendicular will do
        alt = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
        if abs(float(forward @ alt)) > 0.9:
            alt = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
        right = torch.linalg.cross(forward, alt)
    right = right / right.norm()
    down = torch.linalg.cross(forward, right)  # y = z x x for a right-handed camera frame
    c2w = torch.eye(4, dtype=torch.float64)
    c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, down, forward, eye
    return c2w.float()


def project_points(points: Tensor, Ks: Tensor, viewmats: Tensor) -> tuple[Tensor, Tensor]:
    """World points [M, 3] into C cameras (Ks [C, 3, 3], viewmats [C, 4, 4]) -> pixel coordinates
    [C, M, 2] (pixel centres at +0.5) and depth z [C, M].

    Written per coordinate as products and sums of [C, M] tensors, not as a matmul: each camera's
    result is then the same bits whether it is projected alone or with others (a batched and a
    plain matmul may round differently, and a floor() of the pixel coordinate would disagree),
    and it is faster than a matmul with an inner size of 3."""
    x, y, z = points.to(torch.float32).T[:, None, :]  # each [1, M]
    V, K = viewmats.float()[..., None], Ks.float()[..., None]  # [C, 4, 4, 1], [C, 3, 3, 1]
    cam = [V[:, i, 0] * x + V[:, i, 1] * y + V[:, i, 2] * z + V[:, i, 3] for i in range(3)]  # [C, M] each
    pix = [K[:, i, 0] * cam[0] + K[:, i, 1] * cam[1] + K[:, i, 2] * cam[2] for i in range(2)]
    depth = cam[2]
    return torch.stack(pix, -1) / depth[..., None], depth


def stack_cameras(cameras: Camera | Sequence[Camera]) -> tuple[Tensor, Tensor, int, int]:
    """A camera or a list of cameras of one image size -> (Ks [C, 3, 3], viewmats [C, 4, 4], W, H)."""
    cams = [cameras] if isinstance(cameras, Camera) else list(cameras)
    if not cams:
        raise CameraError("no cameras given")
    sizes = {(c.width, c.height) for c in cams}
    if len(sizes) != 1:
        raise CameraError(f"cameras in one batch must share an image size, got {sorted(sizes)}")
    Ks = torch.stack([c.K for c in cams])
    viewmats = torch.stack([c.w2c for c in cams])
    return Ks, viewmats, cams[0].width, cams[0].height
