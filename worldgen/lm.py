"""The learned text -> layout path: the procedural engine's (caption, program) pairs train the
Grok-style backbone; decoding is constrained by the layout-program grammar, so every finished
output parses into a valid layout."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import torch

from renderer.errors import ArgumentError, InputFileError
from renderer.layout import GENERIC_LABEL
from renderer.formats.base import read_json
from rtfm.language import CheckpointError, Grok, from_pretrained, save_pretrained
from rtfm.language.grammar import GrammarConstraint
from rtfm.language.tokenizer import load_tokenizer, save_tokenizer, train_tokenizer
from rtfm.language.train import EOS, MAX_PROMPT_CHARS, TrainConfig, encode_pair, new_model, train

from .procgen.paraphrase import training_pairs
from .procgen.program import LayoutGrammar, ProgramError, layout_from_program, parse_program
from .procgen.text_rules import HEX_COLOR

DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "assets" / "lm-tiny"
ENGINES = ("auto", "lm", "rules")
DEFAULT_ENGINE = "auto"  # bench/lm.py: auto is at least as good as the rules on every prompt set


class LayoutLM:
    def __init__(self, model: Grok, tokenizer):
        self.model, self.tokenizer = model.eval(), tokenizer
        self.strings = [tokenizer.decode([i]) for i in range(tokenizer.get_vocab_size())]
        self.grammar = LayoutGrammar(hex_colors=())  # prompts without #rrggbb colours: no hex in the program
        self.memo: dict = {}  # the grammar's allowed tokens per state, shared by every decode without hex colours
        self.history: list[dict] = []  # train_layout_lm's logged steps, when it made this model

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "LayoutLM":
        return cls(from_pretrained(folder), load_tokenizer(folder))

    def save(self, folder: str | os.PathLike) -> None:
        save_pretrained(self.model, folder)
        save_tokenizer(self.tokenizer, folder)

    def reads_whole(self, prompt: str, max_new_tokens: int = 320) -> bool:
        """Whether the whole prompt fits the context `program` gives it (longer ones are cut)."""
        room = self.model.cfg.max_seq_len - max_new_tokens - 2
        return len(self.tokenizer.encode(prompt[:MAX_PROMPT_CHARS].lower()).ids) <= room

    def program(self, prompt: str, max_new_tokens: int = 320, beams: int = 1) -> str:
        """The decoded layout program: greedy, or the most likely one a beam search of `beams`
        hypotheses finds (raises ProgramError if the token cap is hit first)."""
        if beams < 1:
            raise ArgumentError(f"beams must be at least 1, got {beams}")
        ids, _ = encode_pair(self.tokenizer, prompt, None, self.model.cfg.max_seq_len - max_new_tokens)
        x = torch.tensor([ids])
        hexes = tuple(sorted(set(HEX_COLOR.findall(prompt[:MAX_PROMPT_CHARS].lower()))))
        grammar, memo = (LayoutGrammar(hex_colors=hexes), {}) if hexes else (self.grammar, self.memo)
        constraint = GrammarConstraint(self.strings, grammar.allows, grammar.is_complete, EOS, x.shape[1],
                                       state=grammar.state, memo=memo)
        if beams == 1:
            out = self.model.generate(x, max_new_tokens, logits_filter=constraint, stop_token=EOS)
        else:
            out = self.model.beam_search(x, max_new_tokens, beams, EOS, logits_filter=constraint)
        out = out[0, x.shape[1]:].tolist()
        if EOS not in out:
            raise ProgramError(f"decoding reached the {max_new_tokens}-token cap before the program ended")
        return constraint.text(out[: out.index(EOS)])

    def layout(self, prompt: str, seed: int = 0):
        """(layout, warnings) for a prompt."""
        return layout_from_program(self.program(prompt), seed=seed)


def train_layout_lm(out: str | os.PathLike, preset: str = "tiny", n_layouts: int = 3000, variants: int = 3,
                    requests: int = 5, config: TrainConfig | None = None, seed: int = 0, vocab_size: int = 2048,
                    model_options: dict | None = None, init: str | os.PathLike | None = None, typos: float = 0.0,
                    reworded: int = 0, descriptive: int = 0, log=print) -> LayoutLM:
    """Generate pairs (`variants` captions, `requests` user-style prompts, `reworded` captions in
    other word orders and `descriptive` long prompts per layout, a `typos` share of the non-plain
    ones misspelled), train the
    tokenizer and the model (`model_options` override the preset: engram_layers, mhc_streams, ...),
    save both (safetensors + JSON) to `out`. With `init`, training continues from that checkpoint:
    its weights, tokenizer and config are kept (preset, vocab_size and model_options are unused)
    and its training record is kept in the new one, so the whole recipe stays on record."""
    try:
        Path(out).mkdir(parents=True, exist_ok=True)  # fail now, not after an hour of training
    except OSError as e:
        raise InputFileError(f"{out}: cannot write a checkpoint there: {e.strerror or e}") from None
    t0 = time.perf_counter()
    pairs = training_pairs(n_layouts, variants, requests, seed=seed, typos=typos, reworded=reworded, descriptive=descriptive)
    log(f"{len(pairs)} (prompt, program) pairs from {n_layouts} layouts in {time.perf_counter() - t0:.0f}s")
    previous = None
    if init is not None:
        start = LayoutLM.load(init)
        tokenizer, model = start.tokenizer, start.model
        record_path = Path(init, "training.json")
        previous = read_json(record_path, CheckpointError) if record_path.exists() else None
        log(f"model: continued from {init}, {model.num_parameters() / 1e6:.2f}M parameters; vocab {tokenizer.get_vocab_size()}")
    else:
        tokenizer = train_tokenizer([t for pair in pairs for t in pair], vocab_size=vocab_size)
        model = new_model(preset, tokenizer.get_vocab_size(), **(model_options or {}))
        log(f"model: {preset}, {model.num_parameters() / 1e6:.2f}M parameters; vocab {tokenizer.get_vocab_size()}")
    cfg = config or TrainConfig(seed=seed)
    history = train(model, tokenizer, pairs, cfg, log=log)
    lm = LayoutLM(model, tokenizer)
    lm.history = history
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun the ranks hold one model; rank 0 writes it
        return lm
    lm.save(out)
    record = {"preset": preset if init is None else (previous or {}).get("preset"), "n_layouts": n_layouts,
              "variants": variants, "requests": requests, "reworded": reworded, "typos": typos, "descriptive": descriptive,
              "model_options": model_options or {}, "seed": seed, "config": asdict(cfg), "history": history}
    if init is not None:
        record.update(init=str(init), init_training=previous)
    Path(out, "training.json").write_text(json.dumps(record, indent=1))
    return lm


@lru_cache(maxsize=2)
def _cached(folder: str, stamp: tuple) -> LayoutLM:
    return LayoutLM.load(folder)


def _load_cached(folder: str | os.PathLike) -> LayoutLM:
    """A loaded checkpoint, reused while its files are unchanged (a retrained folder is reloaded)."""
    folder = Path(folder).resolve()
    stamp = tuple((f.stat().st_mtime_ns, f.stat().st_size) if f.exists() else None
                  for f in (folder / "model.safetensors", folder / "config.json", folder / "tokenizer.json"))
    return _cached(str(folder), stamp)


@dataclass
class PromptLayout:
    layout: object  # renderer.layout.Layout
    engine: str  # the engine that produced it: lm, or rules (asked for, chosen by auto, or the fallback)
    warnings: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # words the rule parser did not understand


@dataclass
class PromptReading:
    """What a prompt asks for, before anything is placed."""
    scene: str  # a SCENE_TYPES key
    requests: list  # text_rules.ObjectRequest
    engine: str  # lm, or rules (asked for, chosen by auto, or the fallback)
    warnings: list[str]
    parsed: object  # the rules' text_rules.ParsedPrompt: exclusions, "only", ignored words


def layout_for_prompt(prompt: str, engine: str = DEFAULT_ENGINE, seed: int = 0,
                      checkpoint: str | os.PathLike | None = None, complete: bool = True) -> PromptLayout:
    """Prompt -> layout: `read_prompt`, then the requests placed in a shell sized for them and,
    with `complete`, the scene type's usual furniture around them (procgen.completion; never for
    "only"/"empty" prompts, never a kind the prompt rules out). Checkpoint errors (missing files,
    pickle, bad config) raise CheckpointError/ValueError naming the file, for `lm` only."""
    from .procgen.text_rules import layout_from_requests

    read = read_prompt(prompt, engine, checkpoint)
    layout = layout_from_requests(read.scene, read.requests, read.warnings, seed,
                                  complete=complete and read.parsed.complete, excluded=read.parsed.excluded)
    return PromptLayout(layout, read.engine, list(dict.fromkeys(read.warnings)), read.parsed.ignored)


def read_prompt(prompt: str, engine: str = DEFAULT_ENGINE, checkpoint: str | os.PathLike | None = None) -> PromptReading:
    """What a prompt asks for, read by the language model (`lm`), the rule parser (`rules`) or
    `auto`: the rules, unless they are unsure of their reading (`text_rules.unsure`: words that
    look like typing mistakes, "a red fidge", or a word order they only guess at, "a bed in blue,
    two lamps", a sentence opening with "under the table"). Then the model's reading, if it finds
    every kind the rules found; if it misses some and the only doubts were typing mistakes, the
    rules' reading plus what the model read for the mistyped kinds; else the rules'. A prompt
    longer than the model reads stays with the rules.
    Whatever the engine, the model never adds a kind the prompt does not name (dropped, with a
    warning), and things outside the vocabulary are the rules' named generic objects.
    A prompt the model cannot finish within its token cap falls back to the rules, with a warning."""
    from .procgen.text_rules import kinds_named, misspelled, parse_prompt, scene_for, unsure

    if engine not in ENGINES:
        raise ArgumentError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    parsed = parse_prompt(prompt)  # the model's engine too: exclusions, unknown nouns, the kinds named
    doubts = unsure(parsed) if engine == "auto" else []

    def by_rules(notes: list[str]) -> PromptReading:
        return PromptReading(scene_for(parsed), parsed.requests, "rules", notes + parsed.warnings + parsed.doubts, parsed)

    if engine == "rules" or (engine == "auto" and not doubts):
        return by_rules([])
    try:
        lm = _load_cached(checkpoint or DEFAULT_CHECKPOINT)
    except (CheckpointError, ValueError) as e:
        if engine == "lm":
            raise
        return by_rules([f"the language model could not be loaded ({e}); used the rule parser"])  # auto keeps working
    if engine == "auto" and not lm.reads_whole(prompt):
        return by_rules(["the prompt is longer than the language model reads; used the rule parser"])
    try:
        program = parse_program(lm.program(prompt))
    except ProgramError as e:
        return by_rules([f"the language model gave no layout ({e}); used the rule parser"])
    requests, notes = vetted_requests(program.requests, parsed)
    read_by_rules = {r.label for r in parsed.requests if r.label != GENERIC_LABEL}
    missed = sorted(read_by_rules - {r.label for r in requests})
    if engine == "auto" and missed:
        typo_kinds = kinds_named(parsed) - read_by_rules
        extra = [r for r in requests if r.label in typo_kinds]
        if parsed.doubts or not extra:
            return by_rules([f"the language model missed {', '.join(missed)}; used the rule parser"])
        # Only typing mistakes: the rules' reading, plus what the model read for the mistyped kinds.
        typos = ", ".join(map(repr, misspelled(parsed.ignored)[:5]))
        note = f"read by the language model: {', '.join(sorted({r.label.replace('_', ' ') for r in extra}))} (for {typos})"
        return PromptReading(parsed.scene_type or program.scene, parsed.requests + extra, "lm",
                             [note] + notes + parsed.warnings, parsed)
    warnings = ([f"read by the language model: {'; '.join(doubts)}"] if doubts else []) + notes
    return PromptReading(program.scene, requests, "lm", warnings, parsed)


def vetted_requests(requests: list, parsed) -> tuple[list, list[str]]:
    """The model's requests, less any kind the prompt does not name or rules out (the model must
    not invent), plus the prompt's generic objects (the model's vocabulary cannot name them).
    -> (requests, warnings about what was dropped)."""
    from .procgen.text_rules import kinds_named

    named = kinds_named(parsed)
    kept = [r for r in requests if r.label in named]
    dropped = sorted({r.label for r in requests} - named)
    kept += [r for r in parsed.requests if r.label == GENERIC_LABEL]
    notes = [f"the language model added {', '.join(d.replace('_', ' ') for d in dropped)}, which the prompt does not "
             "name; left out"] if dropped else []
    return kept, notes
