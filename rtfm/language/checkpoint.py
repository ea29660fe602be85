"""Checkpoints: a folder with config.json and model.safetensors, loaded without pickle."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path


from .model import Grok, GrokConfig
from renderer.errors import WorldgenError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


class CheckpointError(WorldgenError):
    """A checkpoint that cannot be loaded; the message names the file and the problem."""


def save_pretrained(model: Grok, folder: str | os.PathLike) -> Path:
    from safetensors.torch import save

    from renderer.formats.base import atomic_write

    folder = Path(folder)
    config = dataclasses.asdict(model.cfg)
    config["engram_layers"] = list(config["engram_layers"])
    weights = save({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()},
                   metadata={"format": "pt", "architecture": "grok"})
    atomic_write(folder / "model.safetensors", [weights])
    atomic_write(folder / "config.json", [json.dumps({"architecture": "grok", **config}, indent=2, sort_keys=True).encode()])
    return folder


# Bounds on config values, checked before anything is built: a config is user input.
INT_LIMITS = {"vocab_size": (2, 1 << 20), "d_model": (1, 1 << 16), "n_layers": (1, 1024), "n_heads": (1, 1024),
              "n_kv_heads": (1, 1024), "head_dim": (1, 1 << 12), "n_experts": (1, 1024), "top_k": (1, 1024),
              "ffn_dim": (1, 1 << 20), "max_seq_len": (8, 1 << 20), "engram_heads": (1, 64), "engram_dim": (1, 1 << 12),
              "mhc_streams": (0, 16)}
FLOAT_FIELDS = ("rope_base", "attn_softcap", "norm_eps", "embedding_multiplier", "output_multiplier")


def check_config(raw, where: str) -> GrokConfig:
    """A GrokConfig from a config.json's values, each type- and range-checked (NaN, inf, bools
    for numbers, absurd sizes refused) before any tensor exists."""
    import math

    if not isinstance(raw, dict):
        raise CheckpointError(f"{where}: a config is a JSON object")
    raw = dict(raw)
    if raw.pop("architecture", "grok") != "grok":
        raise CheckpointError(f"{where}: not a grok checkpoint")
    unknown = sorted(set(raw) - {f.name for f in dataclasses.fields(GrokConfig)})
    if unknown:
        raise CheckpointError(f"{where}: unknown config keys {unknown}"[:300])
    for key, value in raw.items():
        if key in INT_LIMITS and not (value is None and key in ("head_dim", "ffn_dim")):
            lo, hi = INT_LIMITS[key]
            if type(value) is not int or not lo <= value <= hi:
                raise CheckpointError(f"{where}: {key} must be an integer in {lo}..{hi}, got {value!r}"[:300])
        elif key in FLOAT_FIELDS and not (value is None and key == "embedding_multiplier"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise CheckpointError(f"{where}: {key} must be a positive finite number, got {value!r}"[:300])
        elif key == "engram_layers":
            if not isinstance(value, (list, tuple)) or len(value) > 1024 or any(type(v) is not int for v in value):
                raise CheckpointError(f"{where}: engram_layers must be a list of block numbers, got {value!r}"[:300])
            raw[key] = tuple(value)
    try:
        return GrokConfig(**raw)
    except (TypeError, ValueError, ZeroDivisionError) as e:
        raise CheckpointError(f"{where}: {e}"[:300]) from None


def check_weights_match(weights: Path, model) -> None:
    """Raise CheckpointError unless the safetensors file `weights` holds exactly the tensors of
    `model` (built on the meta device, so nothing is allocated), read from its header alone."""
    from safetensors import SafetensorError, safe_open

    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    try:
        with safe_open(str(weights), framework="pt") as f:
            found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (OSError, SafetensorError, ValueError) as e:
        raise CheckpointError(f"{weights}: cannot read: {e}") from None
    missing = sorted(set(expected) - set(found))
    wrong = sorted(k for k in set(expected) & set(found) if found[k] != expected[k])
    extra = sorted(set(found) - set(expected))
    if missing or wrong or extra:
        raise CheckpointError(f"{weights}: does not match config.json (missing {missing[:5]}, wrong shapes {wrong[:5]}, "
                              f"unexpected {extra[:5]})")


def from_pretrained(folder: str | os.PathLike, map_location: str = "cpu") -> Grok:
    """Load a Grok from `folder` (config.json + model.safetensors). Pickle files are refused; the
    config is checked, and the weights' shapes against it (on the meta device), before anything is
    allocated; NaN or infinite weights are refused."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from renderer.formats.base import read_json

    folder = Path(folder)
    if folder.suffix in PICKLE_SUFFIXES or (folder.is_dir() and not (folder / "model.safetensors").exists()
                                            and any(folder.glob("*" + s) for s in PICKLE_SUFFIXES)):
        raise CheckpointError(f"{folder}: pickle checkpoints are refused (they can run code); save as safetensors")
    cfg = check_config(read_json(folder / "config.json", CheckpointError), str(folder / "config.json"))
    weights = folder / "model.safetensors"
    with torch.device("meta"):
        check_weights_match(weights, Grok(cfg))
    try:
        state = load_file(str(weights), device=map_location)
    except (OSError, SafetensorError) as e:
        raise CheckpointError(f"{weights}: cannot read: {e}") from None
    bad = next((k for k, t in state.items() if t.is_floating_point() and not torch.isfinite(t).all()), None)
    if bad is not None:
        raise CheckpointError(f"{weights}: tensor {bad} has NaN or infinite values")
    model = Grok(cfg)
    model.load_state_dict(state)
    return model
