"""Frame-model checkpoints and training state, all safetensors + JSON (no pickle).

A checkpoint folder is what diffusers' `save_pretrained` writes (config.json +
diffusion_pytorch_model.safetensors). `load_frame_model` checks it first (pickle refused, config
keys and values, tensor names and shapes against the config) so a bad file gets an error naming
it, then loads it with `FrameModel.from_pretrained`. `train_state/` holds what resuming needs:
raw weights, AdamW moments, EMA weights and the step.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

import torch

from renderer.errors import ArgumentError
from renderer.formats.base import atomic_write, current_umask, read_json, writing

from .frame_model import FrameModel, FrameModelConfig
from .language.checkpoint import PICKLE_SUFFIXES, CheckpointError, check_weights_match

WEIGHTS = "diffusion_pytorch_model.safetensors"


def save_frame_model(model: FrameModel, folder: str | os.PathLike) -> Path:
    """save_pretrained into a temporary folder, then move each file into place (no half-written checkpoint)."""
    folder = Path(folder)
    with writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder, prefix=".save-") as tmp:
            model.save_pretrained(tmp, safe_serialization=True)
            for name in (WEIGHTS, "config.json"):
                os.chmod(Path(tmp) / name, 0o666 & ~current_umask())  # temporary files are 0600
                os.replace(Path(tmp) / name, folder / name)
    return folder


# every config field: (lowest, highest) accepted, so a hostile config.json cannot ask for a model
# that takes hours or terabytes to build (the meta-device shape check builds it first)
INT_LIMITS = {"resolution": (8, 4096), "patch": (1, 64), "memory_patch": (1, 256), "dim": (8, 8192), "depth": (1, 128),
              "heads": (1, 256), "num_labels": (1, 65536), "label_dim": (1, 1024), "text_dim": (1, 16384),
              "image_size": (8, 2048), "image_patch": (1, 256), "image_pool": (1, 64), "encoder_depth": (1, 64),
              "layout_patch": (1, 64), "refine_channels": (1, 1024), "max_memory": (1, 256),
              "warp_supersample": (1, 8)}


def check_frame_config(raw, where: str) -> dict:
    """A frame model config.json's values, each type- and range-checked before anything is built."""
    import math

    if not isinstance(raw, dict) or raw.get("_class_name", "FrameModel") != "FrameModel":
        raise CheckpointError(f"{where}: not a frame model checkpoint")
    fields = {f.name for f in dataclasses.fields(FrameModelConfig)}
    cfg = {k: v for k, v in raw.items() if not k.startswith("_")}
    unknown = sorted(set(cfg) - fields)
    if unknown:
        raise CheckpointError(f"{where}: unknown config keys {unknown}"[:300])
    for key, value in cfg.items():
        if key in INT_LIMITS:
            lo, hi = INT_LIMITS[key]
            if type(value) is not int or not lo <= value <= hi:
                raise CheckpointError(f"{where}: {key} must be an integer in {lo}..{hi}, got {value!r}"[:300])
        elif key == "mlp_ratio":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not 0 < value <= 64:
                raise CheckpointError(f"{where}: mlp_ratio must be a number in (0, 64], got {value!r}"[:300])
        elif key == "layout_grid":
            if not isinstance(value, list) or len(value) != 3 or any(type(v) is not int or not 1 <= v <= 256 for v in value):
                raise CheckpointError(f"{where}: layout_grid must be 3 integers in 1..256, got {value!r}"[:300])
            cfg[key] = tuple(value)
    try:
        FrameModelConfig(**cfg)
    except (TypeError, ValueError, ZeroDivisionError) as e:
        raise CheckpointError(f"{where}: {e}"[:300]) from None
    return cfg


def load_frame_model(folder: str | os.PathLike, device: str | torch.device = "cpu") -> FrameModel:
    """Load a frame model checkpoint folder; every problem is a CheckpointError naming the file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such checkpoint folder")
    if not (folder / WEIGHTS).exists():
        pickles = [p.name for s in PICKLE_SUFFIXES for p in folder.glob("*" + s)]
        why = f"pickle checkpoints are refused (they can run code): {pickles}" if pickles else f"missing {WEIGHTS}"
        raise CheckpointError(f"{folder}: {why}")
    cfg = check_frame_config(read_json(folder / "config.json", CheckpointError), str(folder / "config.json"))
    with torch.device("meta"):
        try:
            model = FrameModel(**cfg)
        except (TypeError, ValueError, ZeroDivisionError, RuntimeError) as e:  # sizes the layers cannot take
            raise CheckpointError(f"{folder / 'config.json'}: {e}"[:300]) from None
        check_weights_match(folder / WEIGHTS, model)
    model = FrameModel.from_pretrained(str(folder), low_cpu_mem_usage=False)
    for name, t in model.state_dict().items():
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise CheckpointError(f"{folder / WEIGHTS}: tensor {name} has NaN or infinite values")
    return model.to(device).eval()


def with_warp_supersample(model: FrameModel, supersample: int) -> FrameModel:
    """`model` reading memory warped with `supersample` sub-pixels from now on (no weight depends on
    it: continue training on the new warp before relying on it)."""
    lo, hi = INT_LIMITS["warp_supersample"]
    if type(supersample) is not int or not lo <= supersample <= hi:
        raise ArgumentError(f"warp supersample must be an integer in {lo}..{hi}, got {supersample!r}")
    model.register_to_config(warp_supersample=supersample)
    model.cfg = dataclasses.replace(model.cfg, warp_supersample=supersample)
    return model


def widen_labels(model: FrameModel, num_labels: int) -> FrameModel:
    """A copy of `model` that reads and predicts `num_labels` label ids (the vocabulary grew).

    Every weight is kept; the label embeddings keep their rows (the "none" row moves to the new
    end) and the label head keeps its logits, with the new classes starting at the least likely
    old bias, so the widened model predicts exactly what the old one did until it is trained."""
    old = model.cfg.num_labels
    if num_labels < old:
        raise CheckpointError(f"cannot narrow a frame model from {old} to {num_labels} labels")
    widened = FrameModel(**{**dataclasses.asdict(model.cfg), "num_labels": num_labels})
    state = widened.state_dict()
    for name, t in model.state_dict().items():
        new = state[name]
        if new.shape == t.shape:
            new.copy_(t)
        elif name in ("label_embed.weight", "encoder.voxel_label.weight"):
            new[:old] = t[:old]
            new[old:] = t[old]  # ids the old model did not know read as "none", as they did before
        elif name in ("refine.4.weight", "refine.4.bias"):  # RGBD channels, then one logit per label
            new[: t.shape[0]] = t
            new[t.shape[0]:] = t[-old:].min() if name.endswith("bias") else 0.0
        else:
            raise CheckpointError(f"widen_labels: unexpected shape change in {name}")
    widened.load_state_dict(state)
    return widened.to(next(model.parameters()).device).train(model.training)


def grow_resolution(model: FrameModel, resolution: int) -> FrameModel:
    """A copy of `model` at `resolution`, with the same token count: every patch (target, memory)
    grows by resolution / model.cfg.resolution, as JiT's x-prediction allows (research/world-models.md).

    The grown patch embeddings read a patch as the old ones read its area average (each weight
    spread over its s x s pixels, divided by s^2) and the grown head writes each old pixel's
    features to its s x s pixels, so on a nearest-upsampled frame the grown transformer computes
    what the old one did at the old size. The refine convolutions keep their weights (they see
    s-times finer pixels); train the grown model before relying on it."""
    old = model.cfg
    if resolution < old.resolution or resolution % old.resolution:
        raise ArgumentError(f"can grow a {old.resolution}x{old.resolution} frame model to a whole multiple of "
                            f"its resolution, not {resolution}")
    s = resolution // old.resolution
    grown = FrameModel(**{**dataclasses.asdict(old), "resolution": resolution, "patch": old.patch * s,
                          "memory_patch": old.memory_patch * s})
    state = grown.state_dict()
    for name, t in model.state_dict().items():
        if name == "target_embed.weight":  # [D, C p p] -> [D, C sp sp]
            t = _spread_patch(t, grown.pixel_channels, old.patch, s)
        elif name == "memory_embed.weight":
            t = _spread_patch(t, t.shape[1] // old.memory_patch ** 2, old.memory_patch, s)
        elif name in ("head.weight", "head.bias"):  # [F p p, ...] -> [F sp sp, ...]: each pixel's rows copied
            rows = t.reshape(-1, old.patch, old.patch, *t.shape[1:])
            t = rows.repeat_interleave(s, 1).repeat_interleave(s, 2).reshape(-1, *t.shape[1:])
        if state[name].shape != t.shape:
            raise CheckpointError(f"grow_resolution: unexpected shape change in {name}")
        state[name].copy_(t)
    grown.load_state_dict(state)
    return grown.to(next(model.parameters()).device).train(model.training)


def _spread_patch(weight: torch.Tensor, channels: int, patch: int, s: int) -> torch.Tensor:
    """A patch embedding [D, C p p] (`patchify` order) read over s x s times the pixels: [D, C sp sp]."""
    w = weight.reshape(weight.shape[0], channels, patch, patch)
    w = w.repeat_interleave(s, 2).repeat_interleave(s, 3) / (s * s)
    return w.reshape(weight.shape[0], -1)


# ---- training state ----------------------------------------------------------------------------
def _save_tensors(tensors: dict, path: Path, metadata: dict | None = None) -> None:
    from safetensors.torch import save

    atomic_write(path, [save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata=metadata)])


def save_train_state(folder: Path, model: FrameModel, opt: torch.optim.Optimizer, ema, step: int,
                     history: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _save_tensors(model.state_dict(), folder / "model.safetensors")
    state = opt.state_dict()
    moments = {f"{i}.{k}": (v if torch.is_tensor(v) else torch.tensor(v)) for i, s in state["state"].items()
               for k, v in s.items()}
    _save_tensors(moments, folder / "optimizer.safetensors")
    ema_state = ema.state_dict()
    _save_tensors({str(i): p for i, p in enumerate(ema_state.pop("shadow_params"))}, folder / "ema.safetensors")
    meta = {"step": step, "param_groups": state["param_groups"], "ema": ema_state, "history": history}
    atomic_write(folder / "state.json", [json.dumps(meta).encode()])


def load_train_state(folder: Path, model: FrameModel, opt: torch.optim.Optimizer, ema) -> tuple[int, list[dict]]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    meta = read_json(folder / "state.json", CheckpointError)
    try:
        model.load_state_dict(load_file(str(folder / "model.safetensors")))
        moments = load_file(str(folder / "optimizer.safetensors"))
        shadow = load_file(str(folder / "ema.safetensors"))
    except (OSError, SafetensorError, RuntimeError) as e:
        raise CheckpointError(f"{folder}: cannot resume: {e}") from None
    per_param: dict[int, dict] = {}
    for key, v in moments.items():
        i, name = key.split(".", 1)
        per_param.setdefault(int(i), {})[name] = v
    opt.load_state_dict({"state": per_param, "param_groups": meta["param_groups"]})
    ema.load_state_dict({**meta["ema"], "shadow_params": [shadow[str(i)] for i in range(len(shadow))]})
    return int(meta["step"]), list(meta["history"])


def write_training_log(folder: Path, history: list[dict], record: dict) -> None:
    """training.json (the record and every logged step) and loss.png (the loss curves)."""
    atomic_write(folder / "training.json", [json.dumps({**record, "history": history}, indent=1).encode()])
    if not history:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    steps = [h["step"] for h in history]
    for key in ("loss", "rgb", "depth", "label"):
        ax.plot(steps, [h[key] for h in history], label=key)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (EMA of batches)")
    ax.set_title("frame model training")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = folder / ".loss.png.tmp"
    fig.savefig(tmp, format="png")
    plt.close(fig)
    os.replace(tmp, folder / "loss.png")

