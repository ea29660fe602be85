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


def from_pretrained(folder: str | os.PathLike, map_location: str = "cpu") -> Grok:
    """Load a Grok from `folder` (config.json + model.safetensors). Pickle files are refused."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from renderer.formats.base import read_json

    folder = Path(folder)
    if folder.suffix in PICKLE_SUFFIXES or (folder.is_dir() and not (folder / "model.safetensors").exists()
                                            and any(folder.glob("*" + s) for s in PICKLE_SUFFIXES)):
        raise CheckpointError(f"{folder}: pickle checkpoints are refused (they can run code); save as safetensors")
    raw = read_json(folder / "config.json", CheckpointError)
    if raw.pop("architecture", "grok") != "grok":
        raise CheckpointError(f"{folder / 'config.json'}: not a grok checkpoint")
    fields = {f.name for f in dataclasses.fields(GrokConfig)}
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise CheckpointError(f"{folder / 'config.json'}: unknown config keys {unknown}")
    try:
        cfg = GrokConfig(**raw)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{folder / 'config.json'}: {e}") from None
    try:
        state = load_file(str(folder / "model.safetensors"), device=map_location)
    except (OSError, SafetensorError) as e:
        raise CheckpointError(f"{folder / 'model.safetensors'}: cannot read: {e}") from None
    model = Grok(cfg)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    missing = sorted(set(expected) - set(state))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(state[k].shape) != tuple(expected[k]))
    if missing or wrong or set(state) - set(expected):
        raise CheckpointError(f"{folder / 'model.safetensors'}: does not match config.json "
                              f"(missing {missing[:5]}, wrong shapes {wrong[:5]}, unexpected {sorted(set(state) - set(expected))[:5]})")
    model.load_state_dict(state)
    return model
