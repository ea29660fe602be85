"""Structure from motion with pycolmap (CPU): poses for unposed frames, points for posed ones.

- `estimate_poses`: SIFT features on every frame (one shared camera), sequential or exhaustive
  matching, COLMAP's incremental mapper; the largest model becomes a `Reconstruction` with our
  `Camera`s (OpenCV axes, as COLMAP's) for the registered frames and the sparse points.
- `triangulate`: the same features and matches, triangulated with the GIVEN poses (COLMAP's
  point triangulator), which is how 3DGS initialises from a posed capture without depth.
- `metric_scale`: SfM is up to scale; the frame model's metric depth fixes it (the median ratio
  over every observed point) and is measured against the sparse points (AbsRel, delta < 1.25).
- `align_similarity` / `trajectory_error`: Umeyama Sim(3) alignment and the absolute trajectory
  error, for tests and bench/sfm.py.

Deterministic: one thread for every COLMAP stage and a fixed random seed, so the same frames give
the same reconstruction. COLMAP's own log lines are silenced below ERROR while it runs.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from renderer.camera import Camera
from renderer.errors import WorldgenError

from .frames import c2w_from_colmap, colmap_intrinsics

MAX_SFM_FRAMES = 2000
EXHAUSTIVE_UP_TO = 40  # frames: all pairs are matched up to this many, neighbours in sequence beyond
SEQUENTIAL_OVERLAP = 10  # neighbours matched per frame (plus 2^k-distant ones: COLMAP's quadratic overlap)
MAX_FEATURE_SIDE = 1600  # SIFT runs on at most this many pixels on the longer side
POSE_MAX_REPROJ_PX = 1.5  # observations further off are dropped while posing (COLMAP's default: 4)
LENS_MODELS = {"pinhole": "SIMPLE_PINHOLE", "radial": "SIMPLE_RADIAL"}


class SfMError(WorldgenError):
    """Structure from motion failed: too little overlap or texture, or bad frames."""


@dataclass
class Reconstruction:
    """A sparse reconstruction of M input frames, in its own (up-to-scale) world frame.

    cameras: one per input frame, None where the frame did not register.
    points [N, 3] float32, colors [N, 3] float32 in [0, 1].
    observations [O, 2] int64: (frame index, point index) for every 2D observation of a point.
    distortion: the shared camera's (k1, k2, p1, p2); the cameras are its pinhole part, so frames
    should be undistorted with `worldgen.frames.undistort` before they are used with them.
    """

    cameras: list[Camera | None]
    points: np.ndarray
    colors: np.ndarray
    observations: np.ndarray
    reprojection_error_px: float
    distortion: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    @property
    def registered(self) -> list[int]:
        """Indices of the input frames that have a pose."""
        return [i for i, c in enumerate(self.cameras) if c is not None]

    def transformed(self, scale: float = 1.0, rotation: np.ndarray | None = None,
                    translation: np.ndarray | None = None) -> "Reconstruction":
        """The same reconstruction moved by the similarity x -> scale * R x + t (cameras and points)."""
        R = np.eye(3) if rotation is None else np.asarray(rotation, dtype=np.float64)
        t = np.zeros(3) if translation is None else np.asarray(translation, dtype=np.float64)

        def move(c: Camera) -> Camera:
            c2w = c.c2w.double().numpy().copy()
            c2w[:3, :3] = R @ c2w[:3, :3]
            c2w[:3, 3] = scale * R @ c2w[:3, 3] + t
            return Camera(c.K, torch.from_numpy(c2w.astype(np.float32)), c.width, c.height)

        return replace(self, cameras=[None if c is None else move(c) for c in self.cameras],
                       points=(scale * self.points.astype(np.float64) @ R.T + t).astype(np.float32))

    def scaled(self, scale: float) -> "Reconstruction":
        """The same reconstruction with every length multiplied by `scale` (about the origin)."""
        return self.transformed(scale)

    def upright(self) -> "Reconstruction":
        """Rotated so the cameras' mean up direction (-y of OpenCV cameras: a hand-held video is
        mostly level) is world +Z, and moved so the cameras' centroid is at the origin."""
        cams = [c for c in self.cameras if c is not None]
        up = -np.mean([c.c2w[:3, 1].double().numpy() for c in cams], axis=0)
        up /= max(np.linalg.norm(up), 1e-12)
        R = _rotation_between(up, np.array([0.0, 0.0, 1.0]))
        centre = np.mean([c.position.double().numpy() for c in cams], axis=0)
        return self.transformed(1.0, R, -R @ centre)

    def observed_depths(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """-> (frame index [O], pixel uv [O, 2] (pixel centres at +0.5), depth z [O]) of every observation
        in front of its camera."""
        frames, pts = self.observations[:, 0], self.observations[:, 1]
        uv, z = np.zeros((len(frames), 2)), np.zeros(len(frames))
        for i in np.unique(frames):
            sel = frames == i
            p, d = self.cameras[i].project(torch.from_numpy(self.points[pts[sel]]))
            uv[sel], z[sel] = p.double().numpy(), d.double().numpy()
        front = z > 0
        return frames[front], uv[front], z[front]


@dataclass
class ScaleFit:
    """How the frame model's depth agrees with the SfM points: metres per SfM unit (`scale`), the
    AbsRel of predicted depth against the scaled SfM depth, the share within 1.25x (delta1), the
    points compared, and per-frame ratios (median predicted / scaled SfM depth, frames with enough points)."""

    scale: float
    absrel: float
    delta1: float
    points: int
    per_frame: dict[int, float]


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking unit vector a to unit vector b (Rodrigues)."""
    v, c = np.cross(a, b), float(np.dot(a, b))
    if c < -1 + 1e-9:  # opposite: half a turn about any axis perpendicular to a
        axis = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


@contextlib.contextmanager
def _quiet_colmap():
    import pycolmap

    previous = pycolmap.logging.minloglevel
    pycolmap.logging.minloglevel = 2  # errors only: COLMAP logs every image and every model otherwise
    try:
        yield
    finally:
        pycolmap.logging.minloglevel = previous


def _check_images(images) -> list[np.ndarray] | np.ndarray:
    """Frames [M, H, W, 3], or a list of [H_i, W_i, 3] (photos of several sizes)."""
    if isinstance(images, np.ndarray) and (images.ndim != 4 or images.shape[-1] != 3):
        raise SfMError(f"frames must be [M, H, W, 3], got shape {images.shape}")
    if not isinstance(images, np.ndarray):
        images = [np.asarray(im) for im in images]
        bad = next((im.shape for im in images if im.ndim != 3 or im.shape[-1] != 3), None)
        if bad is not None:
            raise SfMError(f"each frame must be [H, W, 3], got shape {bad}")
    if len(images) > MAX_SFM_FRAMES:
        raise SfMError(f"{len(images)} frames for structure from motion; at most {MAX_SFM_FRAMES} (sample them first)")
    if len(images) < 3:
        raise SfMError(f"structure from motion needs at least 3 frames, got {len(images)}")
    if not all(np.isfinite(im).all() for im in images):
        raise SfMError("frames have NaN or infinite values")
    return images


def _write_images(images, folder: Path, by_size: bool = False) -> list[str]:
    """PNG files of the frames; by_size: in one subfolder per frame size (COLMAP's camera per folder)."""
    names = []
    for i, rgb in enumerate(images):
        name = f"{rgb.shape[1]}x{rgb.shape[0]}/{i:05d}.png" if by_size else f"{i:05d}.png"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)).save(folder / name)
        names.append(name)
    return names


def _extract_and_match(work: Path, names: list[str], camera_model: str, params: list[float], single_camera: bool,
                       sequential: bool, seed: int, focal_factor: float | None = None) -> Path:
    """params: the shared camera's parameters. focal_factor instead: frames of several sizes, one camera
    per folder of `_write_images(by_size=True)`, its focal length this factor of its longer side."""
    import pycolmap

    db = work / "database.db"
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = camera_model
    mode = pycolmap.CameraMode.SINGLE if single_camera else pycolmap.CameraMode.PER_IMAGE
    if focal_factor is not None:
        reader.default_focal_length_factor = focal_factor
        mode = pycolmap.CameraMode.PER_FOLDER
    else:
        reader.camera_params = ",".join(f"{v:.10g}" for v in params)
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.num_threads = 1
    extraction.max_image_size = MAX_FEATURE_SIDE
    # Small, clean frames (video, renders) give few corners at COLMAP's defaults, tuned for photos.
    extraction.sift.peak_threshold = 0.002
    extraction.sift.edge_threshold = 30.0
    pycolmap.set_random_seed(seed)
    pycolmap.extract_features(db, work / "images", image_names=names,
                              camera_mode=mode, reader_options=reader, extraction_options=extraction, device=pycolmap.Device.cpu)
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = 1
    matching.sift.max_ratio = 0.7  # stricter than 0.8: procedural grass and brick repeat, and ambiguous matches misregister frames
    verification = pycolmap.TwoViewGeometryOptions()
    verification.ransac.random_seed = seed
    if sequential and len(names) > EXHAUSTIVE_UP_TO:
        pairing = pycolmap.SequentialPairingOptions()
        pairing.overlap = SEQUENTIAL_OVERLAP
        pairing.quadratic_overlap = True  # also frames 2^k apart: a walk that comes back is tied to where it started
        pairing.num_threads = 1
        pycolmap.match_sequential(db, matching_options=matching, pairing_options=pairing,
                                  verification_options=verification, device=pycolmap.Device.cpu)
    else:
        pycolmap.match_exhaustive(db, matching_options=matching, verification_options=verification,
                                  device=pycolmap.Device.cpu)
    return db


def _mapper_options(seed: int, max_runtime_s: float | None):
    import pycolmap

    opts = pycolmap.IncrementalPipelineOptions()
    opts.num_threads = 1
    opts.random_seed = seed
    opts.mapper.random_seed = seed
    opts.mapper.num_threads = 1
    opts.triangulation.random_seed = seed
    opts.min_model_size = 3
    # Video frames are close together: a smaller initial triangulation angle and fewer inliers
    # than COLMAP's photo-collection defaults (16 degrees, 100) let a walk start at all.
    opts.mapper.init_min_tri_angle = 8.0
    opts.mapper.init_min_num_inliers = 50
    opts.mapper.abs_pose_min_num_inliers = 15
    if max_runtime_s is not None:
        opts.max_runtime_seconds = max(1, int(max_runtime_s))
    return opts


def _pose_accuracy(opts) -> None:
    """Mapper settings for accurate poses from few, sparse features (small video frames, plain
    walls). COLMAP keeps observations up to 4 px off, which suits photo collections; on 256 px
    walks the few mismatches that pass (repeated floor boards, window panes) pull bundle adjustment
    and the poses jitter by centimetres: keeping 1.5 px took the median trajectory error of 7
    held-out walks from 1.69% to 1.00% of the path (bench/sfm.py). Points seen by only two frames
    are kept: on a short walk they are much of what ties neighbouring frames together."""
    opts.mapper.filter_max_reproj_error = POSE_MAX_REPROJ_PX
    opts.triangulation.ignore_two_view_tracks = False


def _camera_from_colmap(image, camera) -> Camera:
    fx, fy, cx, cy, *_ = colmap_intrinsics(camera.model.name, camera.params)
    K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], dtype=np.float32)
    pose = image.cam_from_world().matrix()  # [3, 4] world -> camera
    c2w = c2w_from_colmap(pose[:, :3], pose[:, 3])
    return Camera(torch.from_numpy(K), torch.from_numpy(c2w.astype(np.float32)), int(camera.width), int(camera.height))


def _points_of(rec, index_of_image_id: dict[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ids = sorted(rec.points3D.keys())  # sorted: the same reconstruction always lists its points in one order
    xyz = np.array([rec.points3D[i].xyz for i in ids], dtype=np.float32).reshape(-1, 3)
    rgb = (np.array([rec.points3D[i].color for i in ids], dtype=np.float32).reshape(-1, 3) / 255.0)
    obs = [(index_of_image_id[el.image_id], k) for k, i in enumerate(ids) for el in rec.points3D[i].track.elements
           if el.image_id in index_of_image_id]
    return xyz, rgb, np.array(obs, dtype=np.int64).reshape(-1, 2)


@contextlib.contextmanager
def _workdir(workdir):
    if workdir is not None:
        path = Path(workdir)
        path.mkdir(parents=True, exist_ok=True)
        if any(path.iterdir()):
            raise SfMError(f"{path}: the structure-from-motion work folder must be empty")
        yield path
    else:
        with tempfile.TemporaryDirectory(prefix="worldgen-sfm-") as tmp:
            yield Path(tmp)


def estimate_poses(images: np.ndarray, names: list[str] | None = None, fov_y_deg: float | None = None,
                   sequential: bool = True, workdir: str | os.PathLike | None = None, seed: int = 0,
                   lens: str = "pinhole", refine_focal: bool = True,
                   max_runtime_s: float | None = 600.0) -> Reconstruction:
    """Poses and sparse points for frames [M, H, W, 3] float32 in [0, 1] with no poses, or a list of
    frames of several sizes (a phone's portrait and landscape photos).

    One shared camera, its focal length initialised from `fov_y_deg` (else images.DEFAULT_FOV_Y_DEG)
    and refined by bundle adjustment unless `refine_focal=False`; frames of several sizes get one
    camera per size, each with that field of view across its shorter side, the same lens turned. `lens`: "pinhole" (SIMPLE_PINHOLE,
    the default: on short walks a free radial term trades off against the focal length and drifts)
    or "radial" (SIMPLE_RADIAL, for visibly distorted footage). `sequential`: frames are in video
    order (neighbours matched; all pairs up to 40 frames). `names` only label the frames in
    messages. Raises SfMError when fewer than max(3, M / 2) frames register."""
    import pycolmap

    from .images import DEFAULT_FOV_Y_DEG

    if lens not in LENS_MODELS:
        raise SfMError(f"unknown lens model {lens!r}; choose from {', '.join(LENS_MODELS)}")
    images = _check_images(images)
    m = len(images)
    sizes = {im.shape[:2] for im in images}
    label = f"{len(images)} frames" if names is None else f"{len(images)} frames ({names[0]} ... {names[-1]})"
    half_fov = math.tan(math.radians(fov_y_deg or DEFAULT_FOV_Y_DEG) / 2)
    model = LENS_MODELS[lens]
    h, w = images[0].shape[:2]
    params = [0.5 * h / half_fov, w / 2, h / 2] + ([0.0] if model == "SIMPLE_RADIAL" else [])
    # several sizes: each camera's focal length a factor of its longer side, its field of view across the shorter
    focal_factor = float(0.5 * min(h, w) / half_fov / max(h, w)) if len(sizes) > 1 else None
    with _workdir(workdir) as work, _quiet_colmap():
        files = _write_images(images, work / "images", by_size=len(sizes) > 1)
        db = _extract_and_match(work, files, model, params, single_camera=True, sequential=sequential, seed=seed,
                                focal_factor=focal_factor)
        opts = _mapper_options(seed, max_runtime_s)
        opts.ba_refine_focal_length = refine_focal
        opts.mapper.abs_pose_refine_focal_length = refine_focal
        opts.ba_refine_extra_params = model == "SIMPLE_RADIAL"
        _pose_accuracy(opts)
        (work / "sparse").mkdir()
        pycolmap.set_random_seed(seed)
        models = pycolmap.incremental_mapping(db, work / "images", work / "sparse", options=opts)
    need = max(3, math.ceil(m / 2))
    if not models:
        raise SfMError(f"{label}: structure from motion built no model (0 of {m} frames registered): the frames "
                       "have too little overlap or texture to match")
    rec = max(models.values(), key=lambda r: (r.num_reg_images(), r.num_points3D()))
    index_of_image_id = {iid: files.index(im.name) for iid, im in rec.images.items() if im.has_pose}
    if len(index_of_image_id) < need:
        raise SfMError(f"{label}: only {len(index_of_image_id)} of {m} frames registered in structure from motion "
                       f"(need {need}): not enough overlap or texture between the frames")
    cameras: list[Camera | None] = [None] * m
    for iid, i in index_of_image_id.items():
        image = rec.images[iid]
        cameras[i] = _camera_from_colmap(image, rec.cameras[image.camera_id])
    cam = next(iter(rec.cameras.values()))
    distortion = tuple(colmap_intrinsics(cam.model.name, cam.params)[4:])
    xyz, rgb, obs = _points_of(rec, index_of_image_id)
    return Reconstruction(cameras, xyz, rgb, obs, float(rec.compute_mean_reprojection_error()), distortion)


def triangulate(cameras: list[Camera], images: np.ndarray, sequential: bool = True,
                workdir: str | os.PathLike | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sparse points of frames [M, H, W, 3] float32 in [0, 1] with KNOWN cameras (pinhole, any
    intrinsics per frame): SIFT, matching, and COLMAP's point triangulation with the poses held
    fixed. -> (xyz [N, 3] float32 in the cameras' world frame, rgb [N, 3] float32 in [0, 1]).
    Raises SfMError when nothing triangulates."""
    rec = triangulate_reconstruction(cameras, images, sequential, workdir, seed)
    return rec.points, rec.colors


def triangulate_reconstruction(cameras: list[Camera], images: np.ndarray, sequential: bool = True,
                               workdir: str | os.PathLike | None = None, seed: int = 0) -> Reconstruction:
    """`triangulate` with the observations kept: a Reconstruction whose cameras are the given ones."""
    import pycolmap

    images = _check_images(images)
    if len(cameras) != len(images):
        raise SfMError(f"{len(cameras)} cameras but {len(images)} frames")
    for i, c in enumerate(cameras):
        if (c.width, c.height) != (images.shape[2], images.shape[1]):
            raise SfMError(f"frame {i} is {images.shape[2]}x{images.shape[1]} but its camera is {c.width}x{c.height}")
    Ks = [c.K.double().numpy() for c in cameras]
    shared = all(np.allclose(K, Ks[0]) for K in Ks)
    first = Ks[0]
    with _workdir(workdir) as work, _quiet_colmap():
        files = _write_images(images, work / "images")
        db_path = _extract_and_match(work, files, "PINHOLE", [first[0, 0], first[1, 1], first[0, 2], first[1, 2]],
                                     single_camera=shared, sequential=sequential, seed=seed)
        db = pycolmap.Database.open(db_path)
        try:
            rec = pycolmap.Reconstruction()
            db_images = db.read_all_images()
            cam_of_image = {im.camera_id: files.index(im.name) for im in db_images}
            for cam in db.read_all_cameras():
                K = Ks[cam_of_image[cam.camera_id]]
                cam.params = [K[0, 0], K[1, 1], K[0, 2], K[1, 2]]  # the given intrinsics, exactly
                db.update_camera(cam)
                rec.add_camera_with_trivial_rig(cam)
            for im in db_images:
                w2c = cameras[files.index(im.name)].w2c.double().numpy()
                rec.add_image_with_trivial_frame(pycolmap.Image(name=im.name, camera_id=im.camera_id, image_id=im.image_id),
                                                 pycolmap.Rigid3d(w2c[:3]))
        finally:
            db.close()
        (work / "triangulated").mkdir()
        pycolmap.set_random_seed(seed)
        out = pycolmap.triangulate_points(rec, db_path, work / "images", work / "triangulated", clear_points=True,
                                          options=_mapper_options(seed, None), refine_intrinsics=False)
    xyz, rgb, obs = _points_of(out, {iid: files.index(im.name) for iid, im in out.images.items()})
    if len(xyz) == 0:
        raise SfMError(f"{len(images)} posed frames: no point triangulated (too little texture or overlap to match)")
    return Reconstruction(list(cameras), xyz, rgb, obs, float(out.compute_mean_reprojection_error()))


def metric_scale(reconstruction: Reconstruction, depths, min_points_per_frame: int = 8) -> ScaleFit:
    """Fix the SfM scale with metric depth maps and measure how well they agree with the points.

    depths: per input frame a depth map [h, w] (metric z, any size: sampled at the observation's
    pixel scaled to it; <= 0 = unknown) or None. scale = median(predicted / SfM depth) over every
    observation; AbsRel = mean |predicted - scale * sfm| / (scale * sfm)."""
    frames, uv, z = reconstruction.observed_depths()
    pred = np.full(len(z), np.nan)
    for i in np.unique(frames):
        d = depths[i]
        if d is None:
            continue
        d = np.asarray(d, dtype=np.float64)
        cam = reconstruction.cameras[i]
        sel = frames == i
        x = np.clip((uv[sel, 0] * d.shape[1] / cam.width).astype(int), 0, d.shape[1] - 1)
        y = np.clip((uv[sel, 1] * d.shape[0] / cam.height).astype(int), 0, d.shape[0] - 1)
        pred[sel] = d[y, x]
    ok = np.isfinite(pred) & (pred > 0)
    if ok.sum() < 3:
        raise SfMError(f"only {int(ok.sum())} SfM points have a predicted depth to compare with: cannot fix the scale")
    ratio = pred[ok] / z[ok]
    scale = float(np.median(ratio))
    sfm = scale * z[ok]
    absrel = float(np.mean(np.abs(pred[ok] - sfm) / sfm))
    delta1 = float(np.mean(np.maximum(pred[ok] / sfm, sfm / pred[ok]) < 1.25))
    per_frame = {}
    for i in np.unique(frames[ok]):
        r = ratio[frames[ok] == i]
        if len(r) >= min_points_per_frame:
            per_frame[int(i)] = float(np.median(r) / scale)
    return ScaleFit(scale, absrel, delta1, int(ok.sum()), per_frame)


def align_similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Umeyama's least-squares similarity dst ~ s R src + t for points [N, 3] -> (s, R [3, 3], t [3])."""
    src, dst = np.asarray(src, dtype=np.float64), np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    U, S, Vt = np.linalg.svd(b.T @ a / len(src))
    D = np.eye(3)
    D[2, 2] = np.sign(np.linalg.det(U @ Vt)) or 1.0
    R = U @ D @ Vt
    var = (a ** 2).sum(1).mean()
    s = float((S * np.diag(D)).sum() / var) if var > 0 else 1.0
    return s, R, mu_d - s * R @ mu_s


def trajectory_error(estimated: list[Camera | None], truth: list[Camera]) -> dict:
    """Absolute trajectory error of the registered cameras after a Sim(3) alignment of their centres
    to the true ones: RMSE in the true units, the true path length, and RMSE as % of it."""
    idx = [i for i, c in enumerate(estimated) if c is not None]
    if len(idx) < 3:
        raise SfMError(f"{len(idx)} registered cameras: at least 3 are needed to align a trajectory")
    est = np.stack([estimated[i].position.double().numpy() for i in idx])
    ref = np.stack([truth[i].position.double().numpy() for i in idx])
    s, R, t = align_similarity(est, ref)
    err = np.linalg.norm(est @ (s * R).T + t - ref, axis=1)
    rmse = float(np.sqrt((err ** 2).mean()))
    all_pos = np.stack([c.position.double().numpy() for c in truth])
    length = float(np.linalg.norm(np.diff(all_pos, axis=0), axis=1).sum())
    return {"ate_rmse": rmse, "path_length": length, "ate_pct": 100 * rmse / max(length, 1e-12),
            "registered": len(idx), "frames": len(truth), "scale": s}
