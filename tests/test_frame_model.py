import dataclasses
import itertools
import json

import pytest
import torch

from renderer import Camera
from renderer.layout import Box, Layout, Shell
from rtfm.checkpoint import load_frame_model, save_frame_model, widen_labels, with_warp_supersample
from rtfm.frame_model import FrameModel, FrameModelConfig
from rtfm.inputs import Condition, FrameInputError, FrameInputs, MemoryFrame, build_inputs, layout_grid
from rtfm.language import CheckpointError
from renderer.errors import ArgumentError
from rtfm.sampler import SKY, autocast_dtype, sample_ensemble, sample_frames

RES = 32
MICRO = dict(resolution=RES, dim=32, depth=2, heads=2, encoder_depth=1, refine_channels=8, image_size=32,
             image_patch=8, layout_grid=(8, 8, 4), text_dim=16, max_memory=4)


def micro_model(seed: int = 0) -> FrameModel:
    torch.manual_seed(seed)
    model = FrameModel(**MICRO).eval()
    with torch.no_grad():  # adaLN-Zero starts at zero: perturb so every path matters in the tests
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return model


def room() -> Layout:
    return Layout(Shell("room", [5.0, 4.0, 2.6]), [Box("bed", "#203080", [1.0, 0.5, 0.3], [2.0, 1.6, 0.6], 20.0),
                                                  Box("lamp", "#ffffff", [-1.5, 1.2, 0.8], [0.3, 0.3, 1.6])], "bedroom")


def cameras(n: int, res: int = RES) -> list[Camera]:
    return [Camera.look_at([-1.5 + 0.2 * i, -1.0, 1.4], [1.0, 0.5, 0.6], width=res, height=res) for i in range(n)]


def frames(n: int, seed: int = 0, res: int = RES) -> list[MemoryFrame]:
    g = torch.Generator().manual_seed(seed)
    return [MemoryFrame(c, torch.rand(res, res, 3, generator=g), 1.0 + 3 * torch.rand(res, res, generator=g),
                        torch.randint(0, 20, (res, res), generator=g)) for c in cameras(n, res)]


def guide(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"rgb": torch.rand(RES, RES, 3, generator=g), "depth": 1 + torch.rand(RES, RES, generator=g),
            "label": torch.randint(-1, 20, (RES, RES), generator=g)}


def full_condition(seed: int = 0, text_len: int = 5) -> Condition:
    g = torch.Generator().manual_seed(seed)
    return Condition(text=torch.randn(text_len, 16, generator=g), images=torch.rand(2, 40, 48, 3, generator=g),
                     video=torch.rand(3, 24, 24, 3, generator=g), video_time=torch.tensor([0.0, 0.5, 1.0]),
                     layout=layout_grid(room(), (8, 8, 4)))


def batch_of_two() -> FrameInputs:
    target = Camera.look_at([0.0, -1.2, 1.3], [1.0, 0.4, 0.7], width=RES, height=RES)
    a = build_inputs(target, frames(3), guide(0), full_condition(0, 5), image_size=32)
    b = build_inputs(target, frames(1, seed=2), None, Condition(text=torch.randn(9, 16)), image_size=32)
    return FrameInputs.collate([a, b])


def test_cached_context_matches_the_joint_forward():
    model = micro_model()
    inputs = batch_of_two()
    assert inputs.memory.shape[1] == 3 and not inputs.memory_mask[1, 1:].any()  # padded memory
    cache = model.encode_context(inputs)  # once, then reused for different noise levels and inputs
    g = torch.Generator().manual_seed(3)
    for sigma in (1.0, 0.4):
        x_t = torch.randn(2, 4, RES, RES, generator=g)
        s = torch.full((2,), sigma)
        with torch.no_grad():
            joint = model(x_t, s, inputs)
            cached = model.denoise(x_t, s, inputs, cache)
        for a, b in zip(joint, cached):
            assert torch.allclose(a, b, atol=1e-5), float((a - b).abs().max())


def test_the_conditioning_pixels_share_equals_the_whole_layers():
    """encode_pixels + the per-step share of the noisy frame = the embedding and the refine's first
    convolution applied to the whole pixel stack [x_t; conditioning], as one layer each."""
    from rtfm.frame_model import HEAD_FEATURES
    from rtfm.layers import patchify, sincos_2d

    model, inputs = micro_model(), batch_of_two()
    x_t = torch.randn(2, 4, RES, RES, generator=torch.Generator().manual_seed(1))
    feat = torch.randn(2, HEAD_FEATURES, RES, RES, generator=torch.Generator().manual_seed(2))
    cond = model.condition_pixels(inputs)
    pixels = torch.cat([x_t, cond], 1)
    assert pixels.shape[1] == model.pixel_channels
    p = model.cfg.patch
    with torch.no_grad():
        tokens, refine = model.encode_pixels(cond)
        whole_tokens = model.target_embed(patchify(pixels, p)) + sincos_2d(RES // p, RES // p, model.cfg.dim)[None]
        whole_refine = model.refine[0](torch.cat([feat, pixels], 1))
        split_refine = model._refine_first(feat, x_t, refine)
        assert torch.allclose(model._target_tokens(x_t, tokens), whole_tokens, atol=1e-5)
        assert torch.allclose(split_refine, whole_refine, atol=1e-5)


def test_padding_never_changes_a_sample():
    """A target alone or batched beside one with more memory and condition tokens gives the same output."""
    model = micro_model()
    target = Camera.look_at([0.0, -1.2, 1.3], [1.0, 0.4, 0.7], width=RES, height=RES)
    alone = build_inputs(target, frames(1, seed=2), None, Condition(text=torch.randn(9, 16, generator=torch.Generator().manual_seed(5))))
    other = build_inputs(target, frames(3), guide(0), full_condition(0, 12), image_size=32)
    x_t = torch.randn(1, 4, RES, RES)
    s = torch.tensor([0.7])
    with torch.no_grad():
        a = model(x_t, s, alone)[0]
        b = model(torch.cat([x_t, x_t]), s.repeat(2), FrameInputs.collate([alone, other]))[0][:1]
    assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("mask", list(itertools.product([False, True], repeat=4)))
def test_every_subset_of_inputs_runs(mask):
    memory, with_guide, text, layout = mask
    model = micro_model()
    target = cameras(1)[0]
    cond = Condition(text=torch.randn(4, 16) if text else None, layout=layout_grid(room(), (8, 8, 4)) if layout else None)
    inputs = build_inputs(target, frames(2) if memory else [], guide() if with_guide else None, cond)
    out = sample_frames(model, inputs, steps=2, generator=torch.Generator().manual_seed(0))
    assert out.rgb.shape == (1, RES, RES, 3) and out.depth.shape == (1, RES, RES) and out.label.shape == (1, RES, RES)
    assert torch.isfinite(out.rgb).all() and (out.rgb >= 0).all() and (out.rgb <= 1).all()


def test_sampling_is_deterministic_and_cache_reuse_changes_nothing():
    model = micro_model()
    inputs = batch_of_two()
    runs = [sample_frames(model, inputs, steps=4, generator=torch.Generator().manual_seed(7), reuse_cache=r,
                          precision="fp32") for r in (True, True, False)]
    assert torch.equal(runs[0].rgb, runs[1].rgb)
    assert torch.allclose(runs[0].rgb, runs[2].rgb, atol=1e-5)
    guided = sample_frames(model, inputs, steps=4, guidance=2.0, generator=torch.Generator().manual_seed(7),
                           precision="fp32")
    assert not torch.allclose(guided.rgb, runs[0].rgb)  # guidance does something when there is a condition


def test_bf16_sampling_stays_close_to_fp32():
    model = micro_model()
    inputs = batch_of_two()
    a, b = (sample_frames(model, inputs, steps=4, generator=torch.Generator().manual_seed(7), precision=p)
            for p in ("fp32", "bf16"))
    assert b.rgb.dtype == torch.float32 and b.depth.dtype == torch.float32
    assert not torch.equal(a.rgb, b.rgb)  # bf16 arithmetic did run
    assert (a.rgb - b.rgb).abs().mean() < 0.01
    assert ((a.depth - b.depth).abs() / a.depth.clamp(min=0.1)).mean() < 0.02
    again = sample_frames(model, inputs, steps=4, generator=torch.Generator().manual_seed(7), precision="bf16")
    assert torch.equal(b.rgb, again.rgb)


def test_autocast_dtype_resolves_precision_names():
    cpu = torch.device("cpu")
    assert autocast_dtype(cpu, "fp32") is None
    assert autocast_dtype(cpu, "bf16") is torch.bfloat16
    assert autocast_dtype(torch.device("cuda"), "auto") is torch.bfloat16
    assert autocast_dtype(cpu, "auto") is None  # fp32: no faster in bf16 on a CPU, and the same world on every one
    with pytest.raises(ArgumentError, match="precision"):
        autocast_dtype(cpu, "fp8")


def test_ensemble_takes_the_median_of_its_samples():
    model = micro_model()
    inputs = batch_of_two()
    ens = sample_ensemble(model, inputs, samples=3, steps=2, generator=torch.Generator().manual_seed(7))
    each = sample_frames(model, FrameInputs.collate([inputs] * 3), steps=2, generator=torch.Generator().manual_seed(7))
    depths = each.depth.reshape(3, 2, RES, RES)
    surface = (depths > 0).all(0) & (ens.label != SKY)
    assert surface.sum() > 100
    middle = depths.sort(0).values[1]  # the median of three, by sorting
    assert torch.equal(ens.depth[surface], middle[surface])
    assert torch.equal(ens.label, each.label_probs.reshape(3, 2, -1, RES, RES).mean(0).argmax(1))
    assert ens.depth[ens.label == SKY].eq(0).all()
    one = sample_ensemble(model, inputs, samples=1, steps=2, generator=torch.Generator().manual_seed(7))
    plain = sample_frames(model, inputs, steps=2, generator=torch.Generator().manual_seed(7))
    assert torch.equal(one.depth, plain.depth) and torch.equal(one.rgb, plain.rgb)
    with pytest.raises(ArgumentError, match="samples"):
        sample_ensemble(model, inputs, samples=0)


def test_known_rgb_fills_the_warp_channels_without_depth():
    target = cameras(1)[0]
    photo = torch.rand(RES, RES, 3)
    inputs = build_inputs(target, known_rgb=photo)
    assert torch.allclose(inputs.warp[0, :3], photo.permute(2, 0, 1) * 2 - 1)
    assert inputs.warp[0, 4].eq(1).all() and inputs.warp[0, 5].eq(0).all()
    with pytest.raises(FrameInputError, match="known_rgb"):
        build_inputs(target, known_rgb=torch.rand(RES, RES + 1, 3))


def test_memory_without_depth_is_a_token_but_is_not_warped():
    target = cameras(1)[0]
    f = frames(1)[0]
    inputs = build_inputs(target, [MemoryFrame(f.camera, f.rgb)])
    assert inputs.memory.shape[1] == 1 and inputs.warp.abs().sum() == 0
    assert inputs.memory[0, 0, 4].eq(0).all()  # depth-valid channel


def test_bad_inputs_are_named():
    model = micro_model()
    target = cameras(1)[0]
    with pytest.raises(FrameInputError, match="at most 4"):
        model.encode_context(build_inputs(target, frames(5)))
    with pytest.raises(FrameInputError, match="NaN"):
        MemoryFrame(target, torch.full((RES, RES, 3), float("nan")))
    with pytest.raises(FrameInputError, match="rgb must be"):
        MemoryFrame(target, torch.rand(RES, 8, 3))
    with pytest.raises(FrameInputError, match="guide"):
        build_inputs(target, guide={"rgb": torch.rand(8, 8, 3), "depth": torch.ones(8, 8), "label": torch.zeros(8, 8)})
    with pytest.raises(FrameInputError, match="multiple of 16"):
        model(torch.zeros(1, 4, 24, 24), torch.ones(1), build_inputs(cameras(1, 24)[0]))


def test_layout_grid_marks_the_boxes():
    grid = layout_grid(room(), (16, 16, 8))
    assert grid.label.shape == (16, 16, 8) and grid.rgb.shape == (3, 16, 16, 8)
    labels = set(grid.label.unique().tolist())
    from renderer.layout import LABEL_IDS

    assert {LABEL_IDS["bed"], LABEL_IDS["lamp"], -1} <= labels


def test_checkpoint_roundtrip_and_bad_checkpoints(tmp_path):
    model = micro_model()
    save_frame_model(model, tmp_path / "ok")
    loaded = load_frame_model(tmp_path / "ok")
    assert loaded.cfg == model.cfg
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    bad = tmp_path / "corrupt"
    save_frame_model(model, bad)
    (bad / "diffusion_pytorch_model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="cannot read"):
        load_frame_model(bad)
    mismatch = tmp_path / "mismatch"
    save_frame_model(model, mismatch)
    cfg = json.loads((mismatch / "config.json").read_text())
    cfg["dim"] = 48
    cfg["heads"] = 2
    (mismatch / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="does not match config.json"):
        load_frame_model(mismatch)
    cfg["not_a_key"] = 1
    (mismatch / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="unknown config keys"):
        load_frame_model(mismatch)
    (mismatch / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_frame_model(mismatch)
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "model.pt").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="pickle"):
        load_frame_model(pickled)
    with pytest.raises(CheckpointError, match="no such"):
        load_frame_model(tmp_path / "absent")


def test_the_warp_a_model_reads_travels_with_its_checkpoint(tmp_path):
    model = micro_model()
    assert model.cfg.warp_supersample == 1  # what checkpoints from before the setting were trained on
    save_frame_model(with_warp_supersample(model, 2), tmp_path / "ss")
    assert load_frame_model(tmp_path / "ss").cfg.warp_supersample == 2
    old = json.loads((tmp_path / "ss" / "config.json").read_text())
    del old["warp_supersample"]
    (tmp_path / "ss" / "config.json").write_text(json.dumps(old))
    assert load_frame_model(tmp_path / "ss").cfg.warp_supersample == 1
    for bad in (0, 9, "2", 1.5):
        (tmp_path / "ss" / "config.json").write_text(json.dumps({**old, "warp_supersample": bad}))
        with pytest.raises(CheckpointError, match="config.json: warp_supersample"):
            load_frame_model(tmp_path / "ss")
    with pytest.raises(ArgumentError, match="warp supersample"):
        with_warp_supersample(model, 0)


def test_widened_labels_predict_what_the_narrow_model_did():
    torch.manual_seed(0)
    narrow = FrameModel(**{**MICRO, "num_labels": 20}).eval()
    with torch.no_grad():
        for p in narrow.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    wide = widen_labels(narrow, 30).eval()
    assert wide.cfg.num_labels == 30 and narrow.cfg.num_labels == 20
    inputs = batch_of_two()  # labels 0..19 and -1
    x, sigma = torch.randn(2, 4, RES, RES, generator=torch.Generator().manual_seed(1)), torch.tensor([0.9, 0.4])
    with torch.no_grad():
        x0_n, logits_n = narrow(x, sigma, inputs)
        x0_w, logits_w = wide(x, sigma, inputs)
        unknown = FrameInputs.collate([batch_of_two()])
        unknown.guide_label[unknown.guide_label == 3] = 25  # an id the narrow model never knew reads as "none"
        as_none = FrameInputs.collate([batch_of_two()])
        as_none.guide_label[as_none.guide_label == 3] = -1
        assert torch.allclose(wide(x, sigma, unknown)[0], wide(x, sigma, as_none)[0], atol=1e-4)
    assert torch.allclose(x0_n, x0_w, atol=1e-6)
    assert torch.allclose(logits_n, logits_w[:, :20], atol=1e-6)
    assert (logits_w[:, 20:] <= logits_n.amax(1, keepdim=True)).all()  # new classes never win at first
    with pytest.raises(CheckpointError, match="narrow"):
        widen_labels(wide, 10)


def test_presets_and_sizes():
    assert FrameModel().cfg == FrameModelConfig()  # the diffusers __init__ defaults are the dataclass's
    assert FrameModel.from_preset("tiny").cfg == FrameModelConfig.preset("tiny")
    with torch.device("meta"):
        gpu = FrameModel.from_preset("gpu")
    tiny = FrameModel.from_preset("tiny")
    assert sum(p.numel() for p in gpu.parameters()) > 20 * sum(p.numel() for p in tiny.parameters())
    f = tiny.flops_per_frame(64, 64, context_tokens=100, steps=4)
    assert f["total_gflop"] == pytest.approx(f["context_gflop"] + 4 * f["per_step_gflop"])
    with pytest.raises(ValueError, match="unknown frame model preset"):
        FrameModelConfig.preset("huge")
    assert dataclasses.asdict(FrameModelConfig.preset("gpu"))["resolution"] == 256


def test_shipped_checkpoint_loads_and_makes_a_frame():
    from worldgen.frame_training import DEFAULT_FRAME_MODEL

    model = load_frame_model(DEFAULT_FRAME_MODEL)
    # the shipped checkpoint was widened to the whole label vocabulary (widen_labels) and trained on it
    assert model.cfg == FrameModelConfig.preset("tiny")
    target = cameras(1, 64)[0]
    out = sample_frames(model, build_inputs(target, frames(2, res=64)), generator=torch.Generator().manual_seed(0))
    assert out.rgb.shape == (1, 64, 64, 3) and torch.isfinite(out.depth).all()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("backend", ["sdpa", "xformers"])
def test_cuda_frame_model_matches_cpu_and_its_cache(backend):
    """On CUDA (either attention kernel) the joint forward matches the CPU model, and the cached
    context matches the joint forward, in float32; in bf16 autocast it stays close."""
    if backend == "xformers":
        pytest.importorskip("xformers.ops")
    from rtfm.attention import attention_backend

    model, inputs = micro_model(), batch_of_two()
    x_t, s = torch.randn(2, 4, RES, RES, generator=torch.Generator().manual_seed(3)), torch.full((2,), 0.6)
    with torch.no_grad():
        cpu = model(x_t, s, inputs)
        model, inputs, x_t, s = model.to("cuda"), inputs.to("cuda"), x_t.cuda(), s.cuda()
        with attention_backend(backend):
            joint = model(x_t, s, inputs)
            cached = model.denoise(x_t, s, inputs, model.encode_context(inputs))
            with torch.autocast("cuda", dtype=torch.bfloat16):
                half = model.denoise(x_t, s, inputs, model.encode_context(inputs))
    for a, b, c, h in zip(cpu, joint, cached, half):
        assert (a - b.cpu()).abs().max() < 1e-4
        assert (b - c).abs().max() < 1e-5
        assert (b - h.float()).abs().max() < 0.1
