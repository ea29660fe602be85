import pytest
import torch

from renderer import Camera, GaussianScene


def random_scene(n: int, seed: int = 0, sh_degree: int = 3, spread: float = 0.6, log_scale: float = -2.5,
                 dtype=torch.float32) -> GaussianScene:
    """Anisotropic, randomly rotated Gaussians with view-dependent colour and labels 0..4."""
    g = torch.Generator().manual_seed(seed)
    k = (sh_degree + 1) ** 2
    scene = GaussianScene(
        means=torch.randn(n, 3, generator=g) * spread,
        quats=torch.randn(n, 4, generator=g),
        log_scales=torch.randn(n, 3, generator=g) * 0.4 + log_scale,
        opacity_logits=torch.randn(n, generator=g) * 1.5,
        sh=torch.randn(n, k, 3, generator=g) * 0.4,
        labels=torch.randint(0, 5, (n,), generator=g),
    )
    return scene.double() if dtype == torch.float64 else scene


@pytest.fixture
def orbit_cams():
    def make(width=48, height=40, n=2, distance=2.5):
        return [Camera.orbit([0, 0, 0], distance, 40.0 + 100 * i, 15.0 + 10 * i, width=width, height=height) for i in range(n)]

    return make


# The smallest frame model the pipelines run with (random weights): for tests of plumbing, not quality.
# Its 33 labels are the shipped checkpoint's (the vocabulary has grown since; later ids read as unknown),
# which also keeps its seeded random weights what the plumbing tests were written against.
MICRO_FRAME_MODEL = dict(resolution=32, dim=32, depth=1, heads=2, encoder_depth=1, refine_channels=8, image_size=32,
                         image_patch=8, layout_grid=(8, 8, 4), max_memory=4, num_labels=33)


@pytest.fixture(scope="module")
def micro_checkpoint(tmp_path_factory):
    """A saved MICRO_FRAME_MODEL checkpoint folder, seeded."""
    from rtfm.checkpoint import save_frame_model
    from rtfm.frame_model import FrameModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("micro")
    save_frame_model(FrameModel(**MICRO_FRAME_MODEL), folder)
    return folder


def mounted_tmpfs(where, options: str):
    """Mount a tmpfs with `options` (e.g. "size=1m", "ro,size=1m") on the folder `where` for the
    duration of a test (a generator for fixtures: yield from it); skipped where mounting needs root
    or is not allowed."""
    import os
    import shutil
    import subprocess

    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and the mount command")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
