"""Prompts -> condition tokens: the language backbone read as a text encoder for the frame model.

`encode(texts)` runs `<bos> text <sep>` through the decoder and returns its final (normed) hidden
states with a mask of the real tokens. Rows are padded on the right; the decoder is causal, so
padding never changes a real token's state and a text encodes the same alone or in a batch.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

from .checkpoint import from_pretrained
from .model import Grok
from .tokenizer import load_tokenizer
from .train import PAD, encode_pair


class TextEncoder:
    def __init__(self, model: Grok, tokenizer, max_tokens: int = 256):
        if not 2 < max_tokens <= model.cfg.max_seq_len:
            raise ValueError(f"max_tokens must be in 3..{model.cfg.max_seq_len}, got {max_tokens}")
        self.model, self.tokenizer, self.max_tokens = model.eval(), tokenizer, max_tokens

    @classmethod
    def load(cls, folder: str | os.PathLike, max_tokens: int = 256) -> "TextEncoder":
        return cls(from_pretrained(folder), load_tokenizer(folder), max_tokens)

    @property
    def dim(self) -> int:
        return self.model.cfg.d_model

    @torch.no_grad()
    def encode(self, texts: list[str]) -> tuple[Tensor, Tensor]:
        """texts (B strings) -> tokens [B, T, D] float32 and mask [B, T] bool (True = a real token)."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise TypeError("encode takes a list of strings")
        if not texts:
            raise ValueError("encode needs at least one text")
        rows = [encode_pair(self.tokenizer, t, None, self.max_tokens)[0] for t in texts]
        width = max(len(r) for r in rows)
        device = next(self.model.parameters()).device
        ids = torch.full((len(rows), width), PAD, dtype=torch.long, device=device)
        mask = torch.zeros(len(rows), width, dtype=torch.bool, device=device)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r, device=device)
            mask[i, : len(r)] = True
        hidden, _ = self.model.hidden(ids)
        return hidden.float() * mask[..., None], mask
