"""The learned text -> layout path: the procedural engine's (caption, program) pairs train the
Grok-style backbone; decoding is constrained by the layout-program grammar, so every finished
output parses into a valid layout."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import torch

from rtfm.language import Grok, from_pretrained, save_pretrained
from rtfm.language.grammar import GrammarConstraint
from rtfm.language.tokenizer import load_tokenizer, save_tokenizer, train_tokenizer
from rtfm.language.train import EOS, TrainConfig, encode_pair, new_model, train
from .procgen.paraphrase import training_pairs
from .procgen.program import LayoutGrammar, ProgramError, layout_from_program

MAX_PROMPT_CHARS = 2000


class LayoutLM:
    def __init__(self, model: Grok, tokenizer):
        self.model, self.tokenizer = model.eval(), tokenizer
        self.strings = [tokenizer.decode([i]) for i in range(tokenizer.get_vocab_size())]
        self.grammar = LayoutGrammar()

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "LayoutLM":
        return cls(from_pretrained(folder), load_tokenizer(folder))

    def save(self, folder: str | os.PathLike) -> None:
        save_pretrained(self.model, folder)
        save_tokenizer(self.tokenizer, folder)

    def program(self, prompt: str, max_new_tokens: int = 320) -> str:
        """The decoded layout program (raises ProgramError if the token cap is hit first)."""
        ids, _ = encode_pair(self.tokenizer, prompt[:MAX_PROMPT_CHARS].lower(), None, self.model.cfg.max_seq_len - max_new_tokens)
        x = torch.tensor([ids])
        constraint = GrammarConstraint(self.strings, self.grammar.allows, self.grammar.is_complete, EOS, x.shape[1])
        out = self.model.generate(x, max_new_tokens, logits_filter=constraint, stop_token=EOS)[0, x.shape[1]:].tolist()
        if EOS not in out:
            raise ProgramError(f"decoding reached the {max_new_tokens}-token cap before the program ended")
        return constraint.text(out[: out.index(EOS)])

    def layout(self, prompt: str, seed: int = 0):
        """(layout, warnings) for a prompt."""
        return layout_from_program(self.program(prompt), seed=seed)


def train_layout_lm(out: str | os.PathLike, preset: str = "tiny", n_layouts: int = 3000, variants: int = 4,
                    config: TrainConfig | None = None, seed: int = 0, vocab_size: int = 2048, log=print) -> LayoutLM:
    """Generate pairs, train the tokenizer and the model, save both (safetensors + JSON) to `out`."""
    t0 = time.perf_counter()
    pairs = training_pairs(n_layouts, variants, seed=seed)
    log(f"{len(pairs)} (caption, program) pairs from {n_layouts} layouts in {time.perf_counter() - t0:.0f}s")
    tokenizer = train_tokenizer([t for pair in pairs for t in pair], vocab_size=vocab_size)
    model = new_model(preset, tokenizer.get_vocab_size())
    log(f"model: {preset}, {model.num_parameters() / 1e6:.2f}M parameters; vocab {tokenizer.get_vocab_size()}")
    cfg = config or TrainConfig(seed=seed)
    history = train(model, tokenizer, [(a.lower(), b) for a, b in pairs], cfg, log=log)
    lm = LayoutLM(model, tokenizer)
    lm.save(out)
    Path(out, "training.json").write_text(json.dumps({"preset": preset, "n_layouts": n_layouts, "variants": variants,
                                                      "seed": seed, "config": asdict(cfg), "history": history}, indent=1))
    return lm
