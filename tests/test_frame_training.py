import dataclasses
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rtfm.checkpoint import load_frame_model, with_warp_supersample
from rtfm.evaluate import KS, evaluate
from rtfm.frame_model import FrameModel
from rtfm.train_frames import FrameTrainConfig, stream_seed, train_frames
from worldgen.frame_training import held_out_walks, training_walks

MICRO = dict(resolution=32, dim=32, depth=2, heads=2, encoder_depth=1, refine_channels=8, image_size=32,
             image_patch=8, layout_grid=(8, 8, 4), max_memory=4)


@pytest.fixture(scope="module")
def walks():
    stream = training_walks(resolution=32, frames=10, seed=3, workers=0, text_encoder="assets/lm-tiny")
    return [next(stream) for _ in range(2)]


def small_config(**kw) -> FrameTrainConfig:
    base = dict(steps=60, batch_size=4, lr=3e-3, warmup=5, min_buffer=2, buffer=2, new_per_step=0.0, log_every=5,
                checkpoint_every=1000, forcing_start=0.5, p_image=0.5, p_video=0.5, seed=0)
    return FrameTrainConfig(**{**base, **kw})


def fixed_batch_loss(model, walks, cfg) -> float:
    import random

    from rtfm.train_frames import draw_pair, draw_sigmas, frame_losses, make_batch

    rng, gen = random.Random(1), torch.Generator().manual_seed(1)
    pairs = [draw_pair(walks[i % 2], rng, cfg, forcing=False) for i in range(16)]
    inputs, x0, labels = make_batch(model, pairs, dataclasses.replace(cfg, warp_noise=0.0), gen, "cpu")
    sigma = draw_sigmas(16, gen)
    x_t = sigma.view(-1, 1, 1, 1) * torch.randn(x0.shape, generator=gen) + (1 - sigma.view(-1, 1, 1, 1)) * x0
    with torch.no_grad():
        return float(frame_losses(*model.eval()(x_t, sigma, inputs), x0, labels, cfg)["loss"])


def test_training_lowers_the_loss_and_writes_a_checkpoint(walks, tmp_path):
    torch.manual_seed(0)
    model = FrameModel(**MICRO)
    cfg = small_config()
    before = fixed_batch_loss(model, walks, cfg)
    train_frames(model, lambda rank, start: itertools.cycle(walks), cfg, tmp_path, log=lambda s: None)
    assert fixed_batch_loss(model, walks, cfg) < 0.8 * before  # the EMA weights, on the same pairs and noise
    for name in ("config.json", "diffusion_pytorch_model.safetensors", "training.json", "loss.png", "train_state/state.json"):
        assert (tmp_path / name).exists(), name
    record = json.loads((tmp_path / "training.json").read_text())
    assert record["train_config"]["steps"] == 60 and record["history"][-1]["step"] == 59
    loaded = load_frame_model(tmp_path)  # the EMA weights
    assert loaded.cfg == model.cfg


def test_training_resumes_from_its_state(walks, tmp_path):
    torch.manual_seed(0)
    opened = []

    def stream(rank, start):
        opened.append((rank, start))
        return itertools.cycle(walks)

    train_frames(FrameModel(**MICRO), stream, small_config(steps=3, log_every=1), tmp_path, log=lambda s: None)
    lines = []
    history = train_frames(FrameModel(**MICRO), stream, small_config(steps=5, log_every=1), tmp_path, log=lines.append)
    assert any("resumed" in line and "step 3" in line for line in lines)
    assert [h["step"] for h in history] == [0, 1, 2, 3, 4]
    assert json.loads((tmp_path / "train_state" / "state.json").read_text())["step"] == 5
    assert opened == [(0, 0), (0, 3)]  # the resumed run asks for the stream from where it stopped


def test_depth_losses_are_minimised_by_the_median_and_the_inverse_depth_weighted_median():
    """One pixel whose true depth is 1, 2 or 4 m with equal odds: the best constant guess under L1 on
    log depth is the median (2 m); under the relative error it is the median weighted by 1/depth
    (weights 1, 1/2, 1/4: 1 m), found here by searching a grid of guesses."""
    from rtfm.inputs import depth_from_net, depth_to_net
    from rtfm.train_frames import depth_loss

    truth = depth_to_net(torch.tensor([1.0, 2.0, 4.0])).view(3, 1, 1)
    guesses = torch.linspace(float(truth.min()) - 0.5, float(truth.max()) + 0.5, 401)
    for kind, best in (("log_l1", 2.0), ("relative", 1.0)):
        losses = torch.stack([depth_loss(g.expand_as(truth), truth, kind) for g in guesses])
        assert float(depth_from_net(guesses[losses.argmin()])) == pytest.approx(best, rel=0.02), kind
    sky = depth_to_net(torch.zeros(1, 1, 1))  # no depth: L1 on log depth under either loss
    assert float(depth_loss(sky - 0.3, sky, "relative")) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="unknown depth loss"):
        FrameTrainConfig(depth_loss="l2")


def test_each_rank_and_resumed_run_draws_its_own_worlds():
    assert stream_seed(7, 0, 0) == 7  # a run's first stream is the plain seed's, as before resuming existed
    seeds = {stream_seed(s, rank, start) for s in (0, 1) for rank in (0, 1, 2) for start in (0, 250, 500)}
    assert len(seeds) == 18
    assert stream_seed(1, 2, 250) == stream_seed(1, 2, 250)
    first = lambda seed: next(training_walks(resolution=16, frames=4, seed=seed, workers=0, text_encoder=None))  # noqa: E731
    assert not torch.equal(first(stream_seed(0, 0, 250)).frames[0].rgb, first(0).frames[0].rgb)


def test_training_under_torchrun_with_two_cpu_ranks(tmp_path):
    """DDP over gloo: the ranks end with the same weights and drew different worlds."""
    script = Path(__file__).with_name("ddp_train_frames.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29518",
           str(script), str(tmp_path / "ckpt"), json.dumps(MICRO)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=script.parent.parent,
                       env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(script.parent.parent)})
    assert r.returncode == 0, r.stderr[-3000:]
    ranks = sorted((json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")), key=lambda d: d["rank"])
    assert [d["rank"] for d in ranks] == [0, 1]
    assert ranks[0]["weights"] == ranks[1]["weights"]  # gradients were averaged across the ranks
    assert ranks[0]["first_world"] != ranks[1]["first_world"]
    assert load_frame_model(tmp_path / "ckpt").cfg.dim == 32  # written once, by rank 0


def test_evaluation_reports_every_key():
    torch.manual_seed(0)
    model = FrameModel(**MICRO).eval()
    walks = held_out_walks(1, resolution=32, frames=16, text_encoder=None)
    result = evaluate(model, walks, per_walk=2, steps=1)
    assert set(result["psnr_db"]) == {str(k) for k in KS} and set(result["ssim"]) == {str(k) for k in KS}
    assert set(result["baseline_warp_nearest_psnr_db"]) == {"1", "2", "4"}
    assert set(result["depth_absrel"]) == {"4", "single_rgb", "single_rgb_one_sample"} and "4" in result["label_accuracy"]
    assert result["targets"] == 2 and result["resolution"] == 32
    # warping real memory beats a flat colour on a held-out world
    assert result["baseline_warp_nearest_psnr_db"]["4"] > result["flat_mean_color_psnr_db"]
    assert "baseline_warp_nearest_one_splat_psnr_db" not in result
    assert result["standard_error"]["psnr_db"]["4"] is None  # one walk: no spread between walks to measure
    assert set(result["standard_error"]["depth_absrel"]) == {"4", "single_rgb", "single_rgb_one_sample"}
    sub = evaluate(with_warp_supersample(model, 2), walks, per_walk=2, steps=1)
    assert sub["baseline_warp_nearest_one_splat_psnr_db"] == result["baseline_warp_nearest_psnr_db"]
    assert sub["baseline_warp_nearest_psnr_db"]["4"] != result["baseline_warp_nearest_psnr_db"]["4"]


def test_standard_errors_are_over_walks():
    from rtfm.evaluate import _walk_stderr

    # walk means 2 and 6: sample standard deviation 2 sqrt(2), over sqrt(2) walks
    assert _walk_stderr([1.0, 3.0, 5.0, 7.0], ["a", "a", "b", "b"]) == 2.0
    assert _walk_stderr([1.0, 3.0], ["a", "a"]) is None


def test_a_grown_model_reads_a_nearest_upsampled_frame_as_the_small_one_reads_the_frame():
    """grow_resolution keeps the token count: larger patches whose embeddings average what the old
    ones read, a head writing each old pixel's features to its s x s pixels."""
    from rtfm.checkpoint import grow_resolution
    from rtfm.layers import patchify, unpatchify

    torch.manual_seed(0)
    small = FrameModel(**MICRO).eval()
    big = grow_resolution(small, 64)
    assert (big.cfg.resolution, big.cfg.patch, big.cfg.memory_patch) == (64, 8, 32)
    up = lambda x: x.repeat_interleave(2, -2).repeat_interleave(2, -1)  # noqa: E731
    x = torch.randn(2, small.pixel_channels, 32, 32)
    a = small.target_embed(patchify(x, 4))
    assert torch.allclose(big.target_embed(patchify(up(x), 8)), a, atol=1e-5)
    m = torch.randn(2, 11, 32, 32)
    assert torch.allclose(big.memory_embed(patchify(up(m), 32)), small.memory_embed(patchify(m, 16)), atol=1e-5)
    tokens = torch.randn(2, 64, small.cfg.dim)
    assert torch.equal(unpatchify(big.head(tokens), 8, 64, 64), up(unpatchify(small.head(tokens), 4, 32, 32)))
    with pytest.raises(ValueError, match="whole multiple"):
        grow_resolution(small, 48)


def test_eval_reports_the_smaller_model_upsampled_on_the_same_targets(micro_checkpoint, tmp_path):
    from rtfm.checkpoint import grow_resolution, save_frame_model
    from worldgen.frame_training import evaluate_frame_model

    save_frame_model(grow_resolution(load_frame_model(micro_checkpoint), 64), tmp_path / "grown")
    result = evaluate_frame_model(tmp_path / "grown", worlds=1, resolution=64, per_walk=1, steps=1, text_encoder=None,
                                  reference=micro_checkpoint)
    assert set(result["baseline_upsampled_psnr_db"]) == {str(k) for k in KS}
    assert result["model_resolution"] == 64 and result["reference"] == str(micro_checkpoint)
    assert all(0 < v < 60 for v in result["baseline_upsampled_psnr_db"].values())
    with pytest.raises(ValueError, match="cannot be upsampled"):
        evaluate_frame_model(micro_checkpoint, worlds=1, resolution=48, per_walk=1, steps=1, text_encoder=None,
                             reference=micro_checkpoint)
