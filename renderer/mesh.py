"""Meshes from posed RGB-D: TSDF fusion with open3d's tensor VoxelBlockGrid, a simplified
collider, and .glb export through trimesh (the legacy ScalableTSDFVolume returns empty meshes
with this open3d build, so it is not used)."""

from __future__ import annotations

import os

import numpy as np
import trimesh

from .camera import Camera

MAX_COLLIDER_TRIANGLES = 100_000


def tsdf_mesh(cameras: list[Camera], depths: np.ndarray, colors: np.ndarray, voxel_size: float = 0.03,
              depth_max: float = 20.0, trunc_voxels: float = 4.0) -> trimesh.Trimesh:
    """Fuse depth maps [M, H, W] (metric z, 0 = unknown) with colours [M, H, W, 3] in [0, 1].

    Returns a vertex-coloured trimesh in the cameras' world frame (possibly empty)."""
    import open3d as o3d
    import open3d.core as o3c

    device = o3c.Device("CPU:0")
    # Size the block hash map from the surfaces the depth maps actually see (each block holds
    # 16^3 voxels of 5 floats: over-allocating costs gigabytes).
    blocks = _surface_blocks(cameras, depths, voxel_size * 16, depth_max)
    grid = o3d.t.geometry.VoxelBlockGrid(attr_names=("tsdf", "weight", "color"),
                                         attr_dtypes=(o3c.float32, o3c.float32, o3c.float32),
                                         attr_channels=((1), (1), (3)), voxel_size=voxel_size,
                                         block_resolution=16, block_count=max(1000, 3 * blocks), device=device)
    for cam, depth, color in zip(cameras, depths, colors):
        d = np.nan_to_num(np.asarray(depth, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        if not ((d > 0) & (d < depth_max)).any():
            continue  # a frame without depth touches no block, and open3d refuses to integrate it
        depth_img = o3d.t.geometry.Image(o3c.Tensor(d))
        color_img = o3d.t.geometry.Image(o3c.Tensor(np.ascontiguousarray(color, np.float32)))
        K = o3c.Tensor(cam.K.double().numpy())
        w2c = o3c.Tensor(cam.w2c.double().numpy())
        coords = grid.compute_unique_block_coordinates(depth_img, K, w2c, depth_scale=1.0, depth_max=depth_max,
                                                       trunc_voxel_multiplier=trunc_voxels)
        grid.integrate(coords, depth_img, color_img, K, K, w2c, depth_scale=1.0, depth_max=depth_max,
                       trunc_voxel_multiplier=trunc_voxels)
    mesh = grid.extract_triangle_mesh().to_legacy()
    v = np.asarray(mesh.vertices)
    if len(v) == 0:
        return trimesh.Trimesh()
    rgb = np.clip(np.asarray(mesh.vertex_colors), 0, 1)
    vc = np.concatenate([(rgb * 255).round(), np.full((len(v), 1), 255)], 1).astype(np.uint8)
    return trimesh.Trimesh(v, np.asarray(mesh.triangles), vertex_colors=vc, process=False)


def _surface_blocks(cameras: list[Camera], depths: np.ndarray, block: float, depth_max: float) -> int:
    """Distinct blocks of side `block` that backprojected depth (subsampled) falls in."""
    keys = set()
    for cam, depth in zip(cameras, depths):
        d = np.asarray(depth, np.float64)[::4, ::4]
        ys, xs = np.nonzero(np.isfinite(d) & (d > 0) & (d < depth_max))
        if len(ys) == 0:
            continue
        K = cam.K.double().numpy()
        z = d[ys, xs]
        p = np.stack([(xs * 4 + 0.5 - K[0, 2]) / K[0, 0] * z, (ys * 4 + 0.5 - K[1, 2]) / K[1, 1] * z, z], 1)
        w = p @ cam.c2w[:3, :3].double().numpy().T + cam.c2w[:3, 3].double().numpy()
        keys.update(map(tuple, np.floor(w / block).astype(np.int64)))
    return len(keys)


def simplify(mesh: trimesh.Trimesh, max_triangles: int = MAX_COLLIDER_TRIANGLES) -> trimesh.Trimesh:
    """Quadric decimation (open3d) down to at most `max_triangles`, colours kept."""
    if len(mesh.faces) <= max_triangles:
        return mesh
    import open3d as o3d

    m = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(mesh.vertices), o3d.utility.Vector3iVector(mesh.faces))
    m.vertex_colors = o3d.utility.Vector3dVector(np.asarray(mesh.visual.vertex_colors)[:, :3] / 255.0)
    m = m.simplify_quadric_decimation(target_number_of_triangles=max_triangles)
    m.remove_degenerate_triangles()
    m.remove_unreferenced_vertices()
    rgb = np.clip(np.asarray(m.vertex_colors), 0, 1)
    vc = np.concatenate([(rgb * 255).round(), np.full((len(rgb), 1), 255)], 1).astype(np.uint8)
    return trimesh.Trimesh(np.asarray(m.vertices), np.asarray(m.triangles), vertex_colors=vc, process=False)


def glb_bytes(mesh: trimesh.Trimesh, axes: str = "opengl") -> bytes:
    """Binary glTF of the mesh. glTF is +Y up, so "opengl" turns the world's +Z up into +Y up;
    "opencv" keeps the OpenCV-style -Y up that most captured splat content uses."""
    from .axes import world_to_axes

    out = mesh.copy()
    out.apply_transform(world_to_axes(axes))
    return trimesh.exchange.gltf.export_glb(trimesh.Scene(out))


def save_glb(mesh: trimesh.Trimesh, path: str | os.PathLike, axes: str = "opengl") -> None:
    from .formats.base import atomic_write

    atomic_write(path, [glb_bytes(mesh, axes)])
