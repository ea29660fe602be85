"""Camera paths through a layout: orbit, walk-through, look-around and A -> B -> A loops.

Every camera position lies in free space: inside the shell (away from walls), outside every
object's footprint grown by `margin` (flat coverings excepted), at eye height above the
ground. Walks follow shortest paths on an occupancy grid (so they go around furniture, never
through it) and are smoothed; cameras look along the walk, biased towards the scene's content.
"""

from __future__ import annotations

import math

import numpy as np

from renderer.camera import Camera, look_at_c2w
from renderer.layout import FLAT_LABELS, Layout
from renderer.errors import WorldgenError

PATH_KINDS = ("orbit", "walk", "look_around", "loop")
HEAD_ROOM_M = 1.95  # an object whose bottom is higher than this (above the highest room eye, 1.7 m) blocks no camera


class PathError(WorldgenError):
    """No collision-free camera path exists for this layout and request."""


class FreeSpace:
    """Occupancy grid over the layout's floor: True where a camera may stand."""

    def __init__(self, layout: Layout, margin: float = 0.35, cell: float | None = None):
        self.layout = layout
        lo, hi = layout.bounds()
        extent = max(hi[0] - lo[0], hi[1] - lo[1])
        self.cell = cell or max(0.1, extent / 160)
        self.lo = lo[:2]
        self.shape = tuple(np.maximum(np.ceil((hi[:2] - lo[:2]) / self.cell).astype(int), 1))
        xs = self.lo[0] + (np.arange(self.shape[0]) + 0.5) * self.cell
        ys = self.lo[1] + (np.arange(self.shape[1]) + 0.5) * self.cell
        X, Y = np.meshgrid(xs, ys, indexing="ij")
        wall = margin if layout.shell.kind == "room" else margin + 0.5
        free = (X > lo[0] + wall) & (X < hi[0] - wall) & (Y > lo[1] + wall) & (Y < hi[1] - wall)
        for o in layout.objects:
            base = layout.shell.ground_height(*o.center[:2])
            if o.label in FLAT_LABELS or o.z_range[1] - base < 0.05 or o.z_range[0] - base > HEAD_ROOM_M:
                continue  # flat, or hung above every eye height (a ceiling lamp): a camera may stand under it
            c, s = math.cos(math.radians(o.yaw)), math.sin(math.radians(o.yaw))
            dx, dy = X - o.center[0], Y - o.center[1]
            u, v = c * dx + s * dy, -s * dx + c * dy
            free &= ~((np.abs(u) < o.size[0] / 2 + margin) & (np.abs(v) < o.size[1] / 2 + margin))
        # Keep the largest connected region only, so any two free points are joined by a route.
        from scipy import ndimage

        regions, n = ndimage.label(free)
        if n > 1:
            sizes = ndimage.sum(free, regions, index=np.arange(1, n + 1))
            free = regions == 1 + int(np.argmax(sizes))
        self.free, self.X, self.Y = free, X, Y
        self._graph = None  # the free cells' neighbour graph, built on first use
        # For every cell, the nearest free cell (to pull a wanted position into free space).
        if free.any():
            self._nearest = ndimage.distance_transform_edt(~free, return_distances=False, return_indices=True)

    def index(self, xy) -> tuple[int, int]:
        ij = np.floor((np.asarray(xy)[:2] - self.lo) / self.cell).astype(int)
        return int(np.clip(ij[0], 0, self.shape[0] - 1)), int(np.clip(ij[1], 0, self.shape[1] - 1))

    def is_free(self, xy) -> bool:
        return bool(self.free[self.index(xy)])

    def nearest_free(self, xy) -> np.ndarray:
        if not self.free.any():
            raise PathError("the layout leaves no free floor for a camera")
        i, j = self.index(xy)
        return self.point((self._nearest[0][i, j], self._nearest[1][i, j]))

    def point(self, ij) -> np.ndarray:
        return np.array([self.X[ij], self.Y[ij]])

    def random_free(self, rng: np.random.Generator, near: np.ndarray | None = None, within: float | None = None) -> np.ndarray:
        cand = np.argwhere(self.free)
        if len(cand) == 0:
            raise PathError("the layout leaves no free floor for a camera")
        if near is not None and within is not None:
            pts = np.stack([self.X[tuple(cand.T)], self.Y[tuple(cand.T)]], 1)
            close = np.linalg.norm(pts - near[:2], axis=1) < within
            if close.any():
                cand = cand[close]
        return self.point(tuple(cand[rng.integers(len(cand))]))

    def shortest_path(self, a, b) -> np.ndarray:
        """Shortest 8-connected route over free cells from a to b; [K, 2] points (ends included)."""
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import dijkstra

        start, goal = self.index(a), self.index(b)
        if not (self.free[start] and self.free[goal]):
            raise PathError("path end points are not in free space")
        if self._graph is None:
            nx, ny = self.shape
            ids = np.arange(nx * ny).reshape(nx, ny)
            rows, cols, weights = [], [], []
            for di, dj in ((1, 0), (0, 1), (1, 1), (1, -1)):  # each undirected neighbour pair once
                src = ids[: nx - di, max(0, -dj) : ny - max(0, dj)]
                dst = ids[di:, max(0, dj) : ny - max(0, -dj)]
                ok = self.free.ravel()[src] & self.free.ravel()[dst]
                rows.append(src[ok]), cols.append(dst[ok]), weights.append(np.full(ok.sum(), math.hypot(di, dj)))
            r, c, w = (np.concatenate(x) for x in (rows, cols, weights))
            self._graph = coo_matrix((w, (r, c)), shape=(nx * ny, nx * ny)).tocsr()
        s_id, g_id = start[0] * self.shape[1] + start[1], goal[0] * self.shape[1] + goal[1]
        dist, pred = dijkstra(self._graph, directed=False, indices=s_id, return_predecessors=True)
        if not np.isfinite(dist[g_id]):
            raise PathError("no collision-free route between the path's end points")
        cells = [g_id]
        while cells[-1] != s_id:
            cells.append(pred[cells[-1]])
        cells = np.array(cells[::-1])
        return np.stack([self.X.ravel()[cells], self.Y.ravel()[cells]], 1)


def _resample(points: np.ndarray, n: int, smooth: int = 5) -> np.ndarray:
    """n points evenly spaced by arc length along a polyline, lightly smoothed (ends kept)."""
    if len(points) == 1:
        return np.repeat(points, n, axis=0)
    if smooth > 1 and len(points) > smooth:
        kernel = np.ones(smooth) / smooth
        padded = np.concatenate([np.repeat(points[:1], smooth // 2, 0), points, np.repeat(points[-1:], smooth // 2, 0)])
        points = np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(points.shape[1])], 1)
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] == 0:
        return np.repeat(points[:1], n, axis=0)
    t = np.linspace(0, s[-1], n)
    return np.stack([np.interp(t, s, points[:, k]) for k in range(points.shape[1])], 1)


def _smooth_route(route: np.ndarray, n: int, free: FreeSpace) -> np.ndarray:
    """n points along the route, smoothed where smoothing stays in free space."""
    for smooth in (7, 3, 1):
        xy = _resample(route, n, smooth)
        if all(free.is_free(p) for p in xy):
            return xy
    return xy


def _eye_height(layout: Layout, xy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    base = layout.shell.ground_height(xy[..., 0], xy[..., 1])
    eye = rng.uniform(1.4, 1.7) if layout.shell.kind == "room" else rng.uniform(1.6, 2.2)
    return base + eye


def _content_center(layout: Layout) -> np.ndarray:
    if layout.objects:
        c = np.mean([o.center for o in layout.objects], axis=0)
        return np.array([c[0], c[1], max(0.6, c[2])])
    return np.array([0.0, 0.0, 0.8])


def _cameras(eyes, targets, width, height, fov) -> list[Camera]:
    K = Camera.intrinsics_from_fov(fov, width, height)
    return [Camera(K, look_at_c2w(e, t), width, height) for e, t in zip(eyes, targets)]


def camera_path(layout: Layout, kind: str, n_frames: int, *, width: int, height: int, fov_y_deg: float = 70.0,
                seed: int = 0, free: FreeSpace | None = None) -> list[Camera]:
    """`n_frames` cameras along a collision-free path of the given kind (PATH_KINDS)."""
    if kind not in PATH_KINDS:
        raise PathError(f"unknown path kind {kind!r}; choose from {', '.join(PATH_KINDS)}")
    if n_frames < 1:
        raise PathError(f"a path needs at least one frame, got {n_frames}")
    rng = np.random.default_rng(seed)
    free = free or FreeSpace(layout)
    content = _content_center(layout)
    lo, hi = layout.bounds()
    if kind == "orbit":
        # The largest free ellipse-ish ring around the content, looking at it.
        radii = (hi[:2] - lo[:2]) / 2 * rng.uniform(0.55, 0.8)
        phase = rng.uniform(0, 2 * math.pi)
        sweep = rng.uniform(0.5, 1.0) * 2 * math.pi * rng.choice([-1, 1])
        angles = phase + sweep * np.arange(n_frames) / max(n_frames, 1)
        ring = np.stack([radii[0] * np.cos(angles), radii[1] * np.sin(angles)], 1)
        # Pull each point inwards until it is free, or else to the nearest free spot.
        for i in range(n_frames):
            for shrink in np.linspace(1.0, 0.3, 15):
                if free.is_free(ring[i] * shrink):
                    ring[i] *= shrink
                    break
            else:
                ring[i] = free.nearest_free(ring[i])
        eyes = np.column_stack([ring, _eye_height(layout, ring, rng)])
        return _cameras(eyes, np.repeat(content[None], n_frames, 0), width, height, fov_y_deg)
    if kind == "look_around":
        eye_xy = free.random_free(rng, near=np.zeros(2), within=max(hi[0] - lo[0], hi[1] - lo[1]) * 0.3)
        eye = np.array([*eye_xy, float(_eye_height(layout, eye_xy, rng))])
        start = rng.uniform(0, 2 * math.pi)
        yaw = start + np.linspace(0, 2 * math.pi, n_frames, endpoint=False)
        pitch = rng.uniform(-0.25, -0.05)
        look = np.stack([np.cos(yaw) * math.cos(pitch), np.sin(yaw) * math.cos(pitch), np.full(n_frames, math.sin(pitch))], 1)
        return _cameras(np.repeat(eye[None], n_frames, 0), eye + look, width, height, fov_y_deg)
    # walk and loop: a shortest route between two distant free points
    extent = float(np.linalg.norm(hi[:2] - lo[:2]))
    best = None
    for _ in range(12):
        a, b = free.random_free(rng), free.random_free(rng)
        if best is None or np.linalg.norm(a - b) > np.linalg.norm(best[0] - best[1]):
            best = (a, b)
        if np.linalg.norm(a - b) > 0.35 * extent:
            break
    route = free.shortest_path(*best)
    if kind == "loop":  # A -> B -> A: frame M-1-i revisits frame i's pose exactly
        half = (n_frames + 1) // 2
        xy_out = _smooth_route(route, half, free)
        xy = np.concatenate([xy_out, xy_out[: n_frames - half][::-1]])
    else:
        xy = _smooth_route(route, n_frames, free)
    eye_z = _eye_height(layout, xy, rng)
    eyes = np.column_stack([xy, eye_z])
    heading = np.gradient(xy, axis=0) if n_frames > 1 else (content[:2] - xy)
    heading /= np.maximum(np.linalg.norm(heading, axis=1, keepdims=True), 1e-9)
    if kind == "loop":  # look at the content throughout, so the return trip sees the same things
        targets = np.repeat(content[None], n_frames, 0)
    else:
        to_content = content[:2] - xy
        to_content /= np.maximum(np.linalg.norm(to_content, axis=1, keepdims=True), 1e-9)
        blend = heading + 1.0 * to_content
        blend /= np.maximum(np.linalg.norm(blend, axis=1, keepdims=True), 1e-9)
        targets = np.column_stack([xy + 2.0 * blend, eye_z - 0.35])
    return _cameras(eyes, targets, width, height, fov_y_deg)
