"""Grammar-constrained decoding over a subword vocabulary.

The caller supplies a grammar as `allows(text) -> bool` (is `text` a prefix of a valid output?)
and `is_complete(text)`. At each step only tokens whose text keeps the output a valid prefix
survive, and end-of-sequence is allowed only once the output is complete, so whatever the
model's weights, a finished decode parses. Tokens are pre-filtered by their first character
(tested once per step), which keeps a step to a few hundred prefix tests.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


class GrammarConstraint:
    def __init__(self, token_strings: list[str], allows: Callable[[str], bool], is_complete: Callable[[str], bool],
                 eos_id: int, prompt_length: int):
        self.strings = token_strings
        self.allows, self.is_complete = allows, is_complete
        self.eos_id, self.prompt_length = eos_id, prompt_length
        self.by_first: dict[str, list[int]] = {}
        for i, s in enumerate(token_strings):
            if s and i != eos_id:
                self.by_first.setdefault(s[0], []).append(i)

    def text(self, ids: list[int]) -> str:
        return "".join(self.strings[i] for i in ids)

    def allowed(self, text: str) -> list[int]:
        out = []
        for ch, ids in self.by_first.items():
            if not self.allows(text + ch):
                continue
            out.extend(i for i in ids if self.allows(text + self.strings[i]))
        if self.is_complete(text):
            out.append(self.eos_id)
        return out

    def __call__(self, tokens: Tensor, logits: Tensor) -> Tensor:
        """tokens [B, T] so far (prompt + output), logits [B, V] -> logits with forbidden tokens at -inf."""
        masked = torch.full_like(logits, float("-inf"))
        for b in range(tokens.shape[0]):
            out = tokens[b, self.prompt_length :].tolist()
            # A finished row, or (never for a well-formed grammar) a dead end: only the stop token.
            ok = [self.eos_id] if self.eos_id in out else (self.allowed(self.text(out)) or [self.eos_id])
            masked[b, ok] = logits[b, ok]
        return masked
