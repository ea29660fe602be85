"""Held-out evaluation of the frame model: novel views from retrieved memory, against warping alone.

Protocol (one number per key, every key averaged over the same targets): each walk is a 16-frame
path through a held-out world. A target is a frame of it whose memory, the K frames of the same
walk that overlap it most with the target and its two neighbours on each side excluded
(`Walk.memory_for`), holds 4 frames. For K in 0, 1, 2, 4 the model samples the target from that
memory, the layout guide at the target, the caption and the layout tokens. Baseline: the same
memory warped into the target as the model sees it (`renderer.warp.forward_warp` with the model's
`warp_supersample`) with holes filled by the nearest warped pixel, no model; for a model that reads
a sub-pixel warp, also the one-splat-per-pixel warp's baseline. Depth from a single RGB frame: the
target's RGB alone (no memory, guide or condition), as a photo's depth is predicted
(`rtfm.photo.photo_memory`: the median of DEPTH_SAMPLES samples), and from one sample; AbsRel over
pixels with depth. With a `reference` model (the previous, smaller checkpoint), the same targets
are sampled by it from the walk at its own resolution and upsampled (bilinear) to the evaluated
one: `baseline_upsampled_psnr_db`, what the larger model adds over upsampling. `standard_error`
holds the standard errors of the PSNR and AbsRel means over walks (a walk's targets share a world,
so they are not independent samples): whether a figure clears a target by more than its sampling
noise.
"""

from __future__ import annotations

import time

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from renderer.errors import ArgumentError
from renderer.warp import fill_nearest, forward_warp

from .frame_model import FrameModel
from .inputs import Condition, FrameInputs, build_inputs
from .sampler import DEFAULT_STEPS, DEPTH_SAMPLES, precision_name, sample_ensemble, sample_frames
from .walks import Walk

KS = (0, 1, 2, 4)


def psnr(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Per-image PSNR (dB) of [H, W, 3] images in [0, 1]."""
    return float(peak_signal_noise_ratio(pred.clamp(0, 1), target, data_range=1.0))


def ssim(pred: torch.Tensor, target: torch.Tensor) -> float:
    return float(structural_similarity_index_measure(pred.clamp(0, 1).permute(2, 0, 1)[None],
                                                     target.permute(2, 0, 1)[None], data_range=1.0))


def absrel(pred: torch.Tensor, target: torch.Tensor) -> float:
    valid = target > 0
    return float(((pred[valid] - target[valid]).abs() / target[valid]).mean()) if valid.any() else float("nan")


def eval_targets(walk: Walk, per_walk: int, exclude: int = 2) -> list[int]:
    """Up to `per_walk` evenly spread frames whose top-4 memory is full."""
    ok = [t for t in range(len(walk)) if len(walk.memory_for(t, 4, exclude)) == 4]
    if len(ok) <= per_walk:
        return ok
    return [ok[round(i * (len(ok) - 1) / max(per_walk - 1, 1))] for i in range(per_walk)]


def warp_nearest(walk: Walk, t: int, memory: list[int], supersample: int = 1) -> torch.Tensor:
    """The baseline: memory warped into frame t, holes filled with the nearest warped pixel."""
    frames = [walk.frames[i] for i in memory]
    res = forward_warp(torch.stack([f.rgb for f in frames]), torch.stack([f.depth for f in frames]),
                       [f.camera for f in frames], walk.frames[t].camera, supersample=supersample)
    if not res.mask.any():
        return torch.full_like(res.rgb, 0.5)
    return fill_nearest(res.rgb, res.mask)


@torch.no_grad()
def evaluate(model: FrameModel, walks: list[Walk], per_walk: int = 4, steps: int = DEFAULT_STEPS,
             guidance: float = 1.0, seed: int = 0, batch: int = 16, precision: str = "auto",
             reference: FrameModel | None = None) -> dict:
    t_start = time.perf_counter()
    device = next(model.parameters()).device
    pairs = [(w, t) for w in walks for t in eval_targets(w, per_walk)]
    if not pairs:
        raise ArgumentError("no evaluation targets: every walk is too short or too cramped for 4 memory frames")

    def run(make, samples: int = 1, net: FrameModel = model, targets=pairs) -> list:
        outs = []
        for i in range(0, len(targets), batch):
            chunk = targets[i : i + batch]
            inputs = FrameInputs.collate([make(w, t) for w, t in chunk]).to(device)
            g = torch.Generator().manual_seed(seed + i)
            if samples > 1:
                s = sample_ensemble(net, inputs, samples, steps, generator=g, precision=precision)
            else:
                s = sample_frames(net, inputs, steps=steps, guidance=guidance, generator=g, precision=precision)
            outs += [(s.rgb[j].cpu(), s.depth[j].cpu(), s.label[j].cpu()) for j in range(len(chunk))]
        return outs

    def condition(w: Walk) -> Condition:
        return Condition(text=w.text, layout=w.grid)

    walk_of = [id(w) for w, _ in pairs]
    ss = model.cfg.warp_supersample
    result = {"psnr_db": {}, "ssim": {}, "depth_absrel": {}, "label_accuracy": {}, "baseline_warp_nearest_psnr_db": {}}
    stderr = {"psnr_db": {}, "depth_absrel": {}}
    if ss != 1:
        result["baseline_warp_nearest_one_splat_psnr_db"] = {}
    def with_memory(k: int, net: FrameModel):
        return lambda w, t: build_inputs(w.frames[t].camera, [w.frames[i] for i in w.memory_for(t, k)], w.guides[t],
                                         condition(w), image_size=net.cfg.image_size,
                                         warp_supersample=net.cfg.warp_supersample)

    if reference is not None:
        result["baseline_upsampled_psnr_db"] = _upsampled(reference, pairs, run, with_memory)
    for k in KS:
        outs = run(with_memory(k, model))
        gts = [w.frames[t] for w, t in pairs]
        values = [psnr(o[0], g.rgb) for o, g in zip(outs, gts)]
        result["psnr_db"][str(k)], stderr["psnr_db"][str(k)] = _mean(values), _walk_stderr(values, walk_of)
        result["ssim"][str(k)] = _mean(ssim(o[0], g.rgb) for o, g in zip(outs, gts))
        if k == 4:
            values = [absrel(o[1], g.depth) for o, g in zip(outs, gts)]
            result["depth_absrel"]["4"], stderr["depth_absrel"]["4"] = _mean(values), _walk_stderr(values, walk_of)
            result["label_accuracy"]["4"] = _mean(float((o[2] == g.label)[g.label >= 0].float().mean()) for o, g in zip(outs, gts))
        if k > 0:
            result["baseline_warp_nearest_psnr_db"][str(k)] = _mean(
                psnr(warp_nearest(w, t, w.memory_for(t, k), ss), w.frames[t].rgb) for w, t in pairs)
            if ss != 1:
                result["baseline_warp_nearest_one_splat_psnr_db"][str(k)] = _mean(
                    psnr(warp_nearest(w, t, w.memory_for(t, k)), w.frames[t].rgb) for w, t in pairs)
    def photo(w: Walk, t: int) -> FrameInputs:
        return build_inputs(w.frames[t].camera, known_rgb=w.frames[t].rgb, image_size=model.cfg.image_size)

    for key, samples in (("single_rgb", DEPTH_SAMPLES), ("single_rgb_one_sample", 1)):
        outs = run(photo, samples)
        values = [absrel(o[1], w.frames[t].depth) for o, (w, t) in zip(outs, pairs)]
        result["depth_absrel"][key], stderr["depth_absrel"][key] = _mean(values), _walk_stderr(values, walk_of)
    result["flat_mean_color_psnr_db"] = _mean(psnr(w.frames[t].rgb.mean((0, 1)).expand_as(w.frames[t].rgb), w.frames[t].rgb)
                                              for w, t in pairs)
    result.update(standard_error=stderr, targets=len(pairs), walks=len(walks),
                  resolution=walks[0].frames[0].camera.width, steps=steps, guidance=guidance,
                  precision=precision_name(device, precision),
                  seconds=round(time.perf_counter() - t_start, 1))
    return result


def _upsampled(reference: FrameModel, pairs: list, run, with_memory) -> dict:
    """PSNR per K of `reference` sampling each target at its own resolution, upsampled (bilinear)."""
    from .layers import resize_map

    side = reference.cfg.resolution
    small = {id(w): w.resized(side, side) for w, _ in pairs}
    targets = [(small[id(w)], t) for w, t in pairs]
    out = {}
    for k in KS:
        outs = run(with_memory(k, reference), net=reference, targets=targets)
        out[str(k)] = _mean(psnr(resize_map(o[0], w.frames[t].camera.width, w.frames[t].camera.height, "bilinear"),
                                 w.frames[t].rgb) for o, (w, t) in zip(outs, pairs))
    return out


def _mean(values) -> float:
    v = list(values)
    return round(sum(v) / len(v), 4)


def _walk_stderr(values: list[float], groups: list) -> float | None:
    """The standard error of the mean of `values` over their groups (walks): the spread of the group
    means / sqrt(groups). None with a single group."""
    by_group: dict = {}
    for v, g in zip(values, groups):
        by_group.setdefault(g, []).append(v)
    means = torch.tensor([sum(v) / len(v) for v in by_group.values()], dtype=torch.float64)
    return round(float(means.std() / len(means) ** 0.5), 4) if len(means) > 1 else None
