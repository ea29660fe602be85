import math

import pytest
import torch

from conftest import random_scene
from renderer import Camera, GaussianScene, render
from renderer.errors import ArgumentError
from renderer.gaussians import SH_C0


def assert_same(a, b, tol=1e-4):
    for key in ("rgb", "depth", "alpha"):
        diff = (getattr(a, key) - getattr(b, key)).abs().max().item()
        assert diff <= tol, f"{key} differs by {diff}"


@pytest.mark.parametrize("tile_size", [4, 8, 16])
@pytest.mark.parametrize("seed", [0, 1])
def test_tiled_matches_dense_reference(tile_size, seed, orbit_cams):
    scene = random_scene(400, seed=seed)
    cams = orbit_cams(width=45, height=37)  # not a multiple of any tile size
    a = render(scene, cams, backend="torch", tile_size=tile_size)
    b = render(scene, cams, backend="dense")
    assert_same(a, b)
    assert (a.label == b.label).float().mean() > 0.999
    assert 0.05 < a.alpha.mean() < 0.95  # the comparison covers both empty and covered pixels


def test_tiled_matches_dense_with_options(orbit_cams):
    """Antialiased opacity, a background, a capped SH degree and a small chunk budget."""
    scene = random_scene(300, seed=3, log_scale=-3.5)
    cams = orbit_cams(width=40, height=30, n=3)
    kw = dict(antialiased=True, background=(0.2, 0.4, 0.9), sh_degree=2, eps2d=0.5)
    a = render(scene, cams, backend="torch", tile_size=8, chunk_elems=2048, **kw)
    b = render(scene, cams, backend="dense", **kw)
    assert_same(a, b)


def test_saturated_pixels_stop_like_gsplat(orbit_cams):
    """Thousands of opaque layers: most pixels reach the 1e-4 transmittance cutoff."""
    scene = random_scene(3000, seed=5, spread=0.5, log_scale=-2.0)
    scene.opacity_logits = torch.full((3000,), 4.0)
    cams = [Camera.look_at([0, -1.2, 0], [0, 0, 0], width=24, height=24)]
    a = render(scene, cams, backend="torch", tile_size=8, chunk_elems=4096)  # many chunks per tile
    b = render(scene, cams, backend="dense")
    assert (a.alpha > 0.999).float().mean() > 0.5  # T within 10x of the cutoff
    assert_same(a, b)


def test_gaussians_behind_or_beside_the_camera_are_culled():
    scene = random_scene(200, seed=2)
    cam = Camera.look_at([0, 0, 0.1], [0, 3, 0.1], width=32, height=32)  # inside the cloud
    assert_same(render(scene, cam, backend="torch", tile_size=8), render(scene, cam, backend="dense"))


def one_gaussian(z: float, rgb, opacity: float, sigma: float = 0.05, label: int = 7) -> GaussianScene:
    return GaussianScene.from_points(torch.tensor([[0.0, 0.0, z]]), torch.tensor([rgb]), scale=sigma,
                                     opacity=opacity, labels=torch.tensor([label]))


def front_camera(size=33) -> Camera:
    # Looking along +Z from the origin (OpenCV camera == world frame), principal point at a pixel centre.
    K = torch.tensor([[40.0, 0, size / 2], [0, 40.0, size / 2], [0, 0, 1]])
    return Camera(K, torch.eye(4), size, size)


def test_one_gaussian_analytic():
    cam = front_camera()
    out = render(one_gaussian(2.0, [0.9, 0.2, 0.1], 0.6), cam, backend="torch", tile_size=8, eps2d=0.0)
    c = 16  # the pixel whose centre is the projected mean
    assert out.alpha[0, c, c].item() == pytest.approx(0.6, abs=1e-6)
    assert torch.allclose(out.rgb[0, c, c], torch.tensor([0.9, 0.2, 0.1]) * 0.6, atol=1e-6)
    covered = out.alpha[0] > 0
    assert torch.allclose(out.depth[0][covered], torch.full_like(out.depth[0][covered], 2.0), atol=1e-6)
    assert (out.depth[0][~covered] == 0).all()
    # Off-centre falloff: projected std = f * s / z = 40 * 0.05 / 2 = 1 pixel.
    assert out.alpha[0, c, c + 1].item() == pytest.approx(0.6 * math.exp(-0.5), abs=1e-6)
    assert out.alpha[0, c, c + 2].item() == pytest.approx(0.6 * math.exp(-2.0), abs=1e-6)
    assert out.label[0, c, c] == 7 and out.label[0, 0, 0] == -1


def test_two_overlapping_gaussians_in_known_order():
    cam = front_camera()
    near = one_gaussian(2.0, [1.0, 0.0, 0.0], 0.5, label=1)
    far = one_gaussian(3.0, [0.0, 0.0, 1.0], 0.8, sigma=0.075, label=2)  # same 1-pixel footprint
    for scene in (GaussianScene.concat([near, far]), GaussianScene.concat([far, near])):  # storage order is irrelevant
        out = render(scene, cam, backend="torch", tile_size=8, eps2d=0.0, background=(0.0, 1.0, 0.0))
        c = 16
        assert out.alpha[0, c, c].item() == pytest.approx(1 - 0.5 * 0.2, abs=1e-6)
        expect_rgb = torch.tensor([0.5, 0.1, 0.5 * 0.8])  # red * 0.5, green bg * T, blue * 0.8 * 0.5
        assert torch.allclose(out.rgb[0, c, c], expect_rgb, atol=1e-6)
        assert out.depth[0, c, c].item() == pytest.approx((0.5 * 2.0 + 0.4 * 3.0) / 0.9, abs=1e-5)
        assert out.label[0, c, c] == 1


def test_explicit_per_pixel_loop_reference():
    """Independent of both backends' vectorisation: gsplat's compositing loop, written out."""
    scene = random_scene(12, seed=9, spread=0.3, log_scale=-2.0, sh_degree=0)
    cam = Camera.orbit([0, 0, 0], 2.0, 20, 20, width=12, height=10)
    out = render(scene, cam, backend="torch", tile_size=4, background=(0.1, 0.2, 0.3))
    from renderer.raster.common import project
    from renderer.camera import stack_cameras

    Ks, viewmats, w, h = stack_cameras([cam])
    p = project(scene, Ks, viewmats, w, h)
    order = sorted(range(len(scene)), key=lambda i: p.depths[0, i].item())
    for y in range(h):
        for x in range(w):
            T, rgb = 1.0, torch.zeros(3)
            for i in order:
                if p.radii[0, i].min() <= 0:
                    continue
                dx, dy = p.means2d[0, i, 0] - (x + 0.5), p.means2d[0, i, 1] - (y + 0.5)
                a, b, c = p.conics[0, i]
                sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
                alpha = min(0.999, p.opacities[0, i].item() * math.exp(-sigma.item()))
                if sigma < 0 or alpha < 1 / 255:
                    continue
                if T * (1 - alpha) <= 1e-4:
                    break
                rgb += p.colors[0, i] * alpha * T
                T *= 1 - alpha
            rgb += T * torch.tensor([0.1, 0.2, 0.3])
            assert torch.allclose(out.rgb[0, y, x], rgb, atol=1e-5), (x, y)
            assert out.alpha[0, y, x].item() == pytest.approx(1 - T, abs=1e-5)


def test_gradcheck_float64():
    base = random_scene(4, seed=4, spread=0.25, log_scale=-1.6, sh_degree=1, dtype=torch.float64)
    base.opacity_logits = torch.tensor([0.3, -0.2, 0.5, 0.0], dtype=torch.float64)
    cam = Camera.orbit([0, 0, 0], 2.0, 30, 20, width=10, height=9)

    def fn(means, quats, log_scales, opacity_logits, sh):
        s = GaussianScene(means, quats, log_scales, opacity_logits, sh, base.labels)
        out = render(s, cam, backend="torch", tile_size=4, with_labels=False, background=(0.3, 0.3, 0.3))
        return out.rgb, out.depth, out.alpha

    inputs = [getattr(base, k).clone().requires_grad_(True) for k in ("means", "quats", "log_scales", "opacity_logits", "sh")]
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)


def test_torch_backend_gradients_match_dense():
    scene = random_scene(150, seed=6)
    cams = [Camera.orbit([0, 0, 0], 2.5, 60, 20, width=32, height=24)]
    target = torch.rand(1, 24, 32, 3, generator=torch.Generator().manual_seed(0))
    grads = []
    for backend in ("torch", "dense"):
        params = {k: getattr(scene, k).clone().requires_grad_(True) for k in ("means", "quats", "log_scales", "opacity_logits", "sh")}
        s = GaussianScene(**params, labels=scene.labels)
        out = render(s, cams, backend=backend, tile_size=8, with_labels=False)
        ((out.rgb - target) ** 2).mean().add(out.depth.mean()).backward()
        grads.append({k: v.grad for k, v in params.items()})
    for k in grads[0]:
        assert torch.allclose(grads[0][k], grads[1][k], atol=1e-5, rtol=1e-3), k


def test_backward_recomputes_chunks_beyond_its_memory_budget(monkeypatch):
    """Gradients are the same whether the forward's chunk weights were kept or are recomputed."""
    import renderer.raster.tiled as tiled

    scene = random_scene(300, seed=8)
    cam = Camera.orbit([0, 0, 0], 2.5, 30, 20, width=40, height=32)
    grads = []
    for limit in (tiled.SAVE_ELEMS, 0):
        monkeypatch.setattr(tiled, "SAVE_ELEMS", limit)
        params = {k: getattr(scene, k).clone().requires_grad_(True) for k in ("means", "quats", "log_scales", "opacity_logits", "sh")}
        out = render(GaussianScene(**params, labels=scene.labels), cam, backend="torch", tile_size=8, chunk_elems=4096,
                     with_labels=False)
        (out.rgb.square().mean() + out.depth.mean()).backward()
        grads.append({k: v.grad for k, v in params.items()})
    for k in grads[0]:
        assert torch.allclose(grads[0][k], grads[1][k], atol=1e-6, rtol=1e-5), k


def test_labels_follow_the_dominant_object():
    scene = GaussianScene.concat([one_gaussian(2.0, [1, 0, 0], 0.9, sigma=0.2, label=3),
                                  one_gaussian(3.0, [0, 1, 0], 0.9, sigma=0.6, label=5)])
    out = render(scene, front_camera(), backend="torch", tile_size=8)
    assert out.label[0, 16, 16] == 3  # the near, opaque Gaussian wins at its centre
    assert out.label[0, 16, 24] == 5  # 8 px out, the big far one carries most of the weight
    assert out.label[0, 16, 32] == -1  # 16 px out, the background (1 - alpha) does


def test_empty_scene_renders_background():
    out = render(GaussianScene.empty(), front_camera(8), background=(0.1, 0.2, 0.3))
    assert torch.allclose(out.rgb, torch.tensor([0.1, 0.2, 0.3]).expand(1, 8, 8, 3))
    assert (out.alpha == 0).all() and (out.label == -1).all()


def test_backend_choice_errors():
    scene = random_scene(5)
    cam = front_camera(8)
    with pytest.raises(ArgumentError, match="unknown render backend"):
        render(scene, cam, backend="vulkan")
    with pytest.raises(ArgumentError, match="CUDA"):
        render(scene, cam, backend="gsplat")


def test_dc_colour_convention():
    """An SH-degree-0 Gaussian renders its DC colour 0.5 + C0 * f_dc, as in 3DGS."""
    s = one_gaussian(2.0, [0.25, 0.5, 0.75], 0.99)
    assert torch.allclose(s.sh[0, 0] * SH_C0 + 0.5, torch.tensor([0.25, 0.5, 0.75]))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gsplat_cuda_backend_matches_torch_backend(orbit_cams):
    scene = random_scene(2000, seed=7)
    cams = orbit_cams(width=64, height=48)
    a = render(scene, cams, backend="torch")
    b = render(scene.to("cuda"), cams, backend="gsplat")
    for key in ("rgb", "depth", "alpha"):
        assert (getattr(a, key) - getattr(b, key).cpu()).abs().max() < 2e-3, key
    assert (a.label == b.label.cpu()).float().mean() > 0.99
