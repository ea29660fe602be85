"""Byte-level BPE (the `tokenizers` library), trained on the caller's texts and saved beside a checkpoint."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from renderer.errors import InputFileError

SPECIALS = ["<pad>", "<bos>", "<eos>", "<sep>"]


def train_tokenizer(texts: Iterable[str], vocab_size: int = 4096):
    """A byte-level BPE tokenizer with <pad> <bos> <eos> <sep> as ids 0..3."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return tok


def save_tokenizer(tok, folder: str | os.PathLike) -> Path:
    path = Path(folder) / "tokenizer.json"
    tok.save(str(path))
    return path


def load_tokenizer(folder: str | os.PathLike):
    from tokenizers import Tokenizer

    path = Path(folder) / "tokenizer.json"
    try:
        return Tokenizer.from_file(str(path))
    except Exception as e:  # noqa: BLE001 - the library raises plain Exceptions for bad files
        raise InputFileError(f"{path}: not a tokenizers JSON file: {e}") from None
