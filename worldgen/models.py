"""The learned components a world is made with, loaded once per process.

A frame-model checkpoint names the text encoder it was trained with in `model_index.json` (as a
diffusers pipeline names its components): {"text_encoder": "../lm-tiny"}, a folder relative to the
checkpoint's own. Generation loads that one, not a fixed default; a checkpoint without the file
falls back to `DEFAULT_TEXT_ENCODER` (with a warning in the log). Loaded models are cached per
process, keyed by folder, file identity (size and modification time) and device, so a retrained
checkpoint in the same folder is read again.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from pathlib import Path
from typing import Callable

import torch

from renderer.formats.base import read_json

from .config import DEFAULT_TEXT_ENCODER

MODEL_INDEX = "model_index.json"
log = logging.getLogger(__name__)


def _identity(folder: Path) -> tuple:
    """What changes when a checkpoint folder is rewritten: its files' names, sizes and mtimes."""
    try:
        stats = [(p.name, p.stat()) for p in folder.iterdir() if p.is_file()]
        return tuple(sorted((name, st.st_size, st.st_mtime_ns) for name, st in stats))
    except OSError:
        return ()


def frame_model(folder: str | os.PathLike, device: str = "cpu"):
    """The frame model in `folder` on `device`, in eval mode (cached; treat it as read-only)."""
    folder = Path(folder).resolve()
    return _frame_model(folder, _identity(folder), str(device))


@functools.lru_cache(maxsize=4)
def _frame_model(folder: Path, identity: tuple, device: str):
    from rtfm.checkpoint import load_frame_model

    return load_frame_model(folder, device)


def text_encoder_of(frame_model_folder: str | os.PathLike) -> Path:
    """The text encoder a frame-model checkpoint was trained with (its model_index.json)."""
    from rtfm.language.checkpoint import CheckpointError

    folder = Path(frame_model_folder)
    index = folder / MODEL_INDEX
    if not index.is_file():
        log.warning("%s has no %s; reading prompts with %s", folder, MODEL_INDEX, DEFAULT_TEXT_ENCODER)
        return DEFAULT_TEXT_ENCODER
    raw = read_json(index, CheckpointError)
    entry = raw.get("text_encoder") if isinstance(raw, dict) else None
    if not isinstance(entry, str) or not entry or "\0" in entry:
        raise CheckpointError(f"{index}: \"text_encoder\" must name a language checkpoint folder, got {entry!r}")
    path = (folder / entry).resolve()
    if not (path / "config.json").is_file():
        raise CheckpointError(f"{index}: its text encoder {entry} ({path}) is not a language checkpoint folder")
    return path


def write_model_index(frame_model_folder: str | os.PathLike, text_encoder: str | os.PathLike) -> Path:
    """Record in a frame-model checkpoint which text encoder it reads (relative when it can be)."""
    from renderer.formats.base import atomic_write

    folder = Path(frame_model_folder)
    target = Path(os.path.relpath(Path(text_encoder).resolve(), folder.resolve()))
    index = folder / MODEL_INDEX
    body = {"_class_name": "FrameModel", "text_encoder": target.as_posix()}
    atomic_write(index, [(json.dumps(body, indent=2) + "\n").encode()])
    return index


def text_states(folder: str | os.PathLike | None) -> Callable[[str], torch.Tensor] | None:
    """caption -> TextEncoder states [T, D] of the language checkpoint in `folder` (None: no text)."""
    if folder is None:
        return None
    folder = Path(folder).resolve()
    enc = _text_encoder(folder, _identity(folder))
    return lambda caption: enc.encode([caption])[0][0]


@functools.lru_cache(maxsize=4)
def _text_encoder(folder: Path, identity: tuple):
    from rtfm.language import TextEncoder

    return TextEncoder.load(folder)
