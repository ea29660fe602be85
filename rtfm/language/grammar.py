"""Grammar-constrained decoding over a subword vocabulary.

The caller supplies a grammar as `allows(text) -> bool` (is `text` a prefix of a valid output?)
and `is_complete(text)`. At each step only tokens whose text keeps the output a valid prefix
survive, and end-of-sequence is allowed only once the output is complete, so whatever the
model's weights, a finished decode parses.

The vocabulary is walked as a character trie: a prefix test that fails prunes every token below
that node (a grammar's valid prefixes are prefix-closed), so a step costs one test per viable
trie node, typically a few dozen, instead of one per token.

A grammar may also say which texts it cannot tell apart: `state(text, line_breaks)` returns a
key that is equal for two texts only when the same tokens may follow both (`line_breaks`: the
most line breaks one token holds). The allowed tokens are then remembered per key, in `memo`,
which a caller may share between decodes: after the first few layouts a step is a lookup.
"""

from __future__ import annotations

from typing import Callable, Hashable

import torch
from torch import Tensor


class GrammarConstraint:
    def __init__(self, token_strings: list[str], allows: Callable[[str], bool], is_complete: Callable[[str], bool],
                 eos_id: int, prompt_length: int, state: Callable[[str, int], Hashable] | None = None,
                 memo: dict | None = None):
        self.strings = token_strings
        self.allows, self.is_complete = allows, is_complete
        self.eos_id, self.prompt_length = eos_id, prompt_length
        self.state, self.memo = state, ({} if memo is None else memo)
        self.line_breaks = max((s.count("\n") for s in token_strings), default=0)
        self.trie: tuple[dict, list[int]] = ({}, [])  # node = (children by character, ids of tokens ending here)
        for i, s in enumerate(token_strings):
            if not s or i == eos_id:
                continue
            node = self.trie
            for ch in s:
                node = node[0].setdefault(ch, ({}, []))
            node[1].append(i)

    def text(self, ids: list[int]) -> str:
        return "".join(self.strings[i] for i in ids)

    def allowed(self, text: str) -> list[int]:
        """Ids of the tokens that keep `text` a valid prefix (and EOS if it is complete)."""
        out, stack = [], [(self.trie, text)]
        while stack:
            (children, _), prefix = stack.pop()
            for ch, child in children.items():
                extended = prefix + ch
                if self.allows(extended):
                    out.extend(child[1])
                    stack.append((child, extended))
        if self.is_complete(text):
            out.append(self.eos_id)
        return sorted(out)

    def allowed_ids(self, text: str) -> Tensor:
        """allowed(text) as a LongTensor, remembered per grammar state when the grammar has one;
        a dead end (never, for a well-formed grammar) allows only the stop token."""
        if self.state is None:
            return torch.tensor(self.allowed(text) or [self.eos_id])
        key = self.state(text, self.line_breaks)
        ids = self.memo.get(key)
        if ids is None:
            if len(self.memo) > 100_000:  # bounded, whatever a caller decodes
                self.memo.clear()
            ids = self.memo[key] = torch.tensor(self.allowed(text) or [self.eos_id])
        return ids

    def __call__(self, tokens: Tensor, logits: Tensor) -> Tensor:
        """tokens [B, T] so far (prompt + output), logits [B, V] -> logits with forbidden tokens at -inf."""
        masked = torch.full_like(logits, float("-inf"))
        for b in range(tokens.shape[0]):
            out = tokens[b, self.prompt_length :].tolist()
            ok = torch.tensor([self.eos_id]) if self.eos_id in out else self.allowed_ids(self.text(out))  # finished row: stop
            masked[b, ok] = logits[b, ok]
        return masked
