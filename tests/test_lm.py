import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rtfm.language import TextEncoder
from rtfm.language.tokenizer import train_tokenizer
from rtfm.language.train import TrainConfig, encode_pair, new_model, train
from worldgen.lm import LayoutLM, train_layout_lm
from worldgen.procgen.composers import compose, groups
from worldgen.procgen.paraphrase import describe, misspell, request, training_pairs
from worldgen.procgen.program import TARGET_RELATIONS, ProgramError, parse_program
from worldgen.procgen.reword import reword
from worldgen.procgen.text_rules import LEXICON, layout_from_prompt, parse_prompt
from worldgen.procgen.vocab import COLORS, nearest_color_name

SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "lm-tiny"


def test_paraphrases_keep_the_facts():
    layout, relations = compose("bedroom", 7)
    rng = np.random.default_rng(0)
    for plain in (True, False, False, False):
        text, _ = describe(layout, relations, rng, plain=plain)
        # The rule-based reader recovers the same objects from every paraphrase.
        assert layout_from_prompt(text, seed=0)[1].ignored == []
    pairs = training_pairs(3, variants=2, requests=3, seed=1)
    assert len(pairs) == 15 and all(parse_program(p) for _, p in pairs)


def test_typos_change_words_but_never_into_other_known_words():
    rng = np.random.default_rng(0)
    for text in ["a bedroom with a blue bed, two lamps and a wooden wardrobe", "four chairs", "Three large rocks."]:
        for _ in range(20):
            typed = misspell(text, rng)
            assert typed != text and len(typed.split()) == len(text.split())
            changed = [w for w, v in zip(typed.lower().split(), text.lower().split()) if w != v]
            assert changed and not any((w.strip(".,"),) in LEXICON for w in changed)
    assert misspell("a b c", rng) == "a b c"
    clean = training_pairs(2, variants=2, requests=2, seed=4)
    assert training_pairs(2, variants=2, requests=2, seed=4, typos=0.0) == clean
    typed = training_pairs(2, variants=2, requests=2, seed=4, typos=1.0)
    assert [p for _, p in typed] == [p for _, p in clean]  # the programs do not change
    assert [t == c for (t, _), (c, _) in zip(typed, clean)] == [True, False, False, False] * 2  # plain captions stay


def test_reworded_captions_keep_the_facts_in_other_word_orders():
    layout, relations = compose("bedroom", 11)
    facts = sorted((label, color, n) for label, color, n, _ in groups(layout, relations))
    texts = set()
    for k in range(12):
        text, program = reword(layout, relations, np.random.default_rng(k))
        assert (text, program) == reword(layout, relations, np.random.default_rng(k))  # seeded
        read = parse_program(program)
        assert read.scene == "bedroom"
        assert sorted((r.label, nearest_color_name(r.color), r.count) for r in read.requests) == facts
        texts.add(text)
    assert len(texts) == 12
    text, program = reword(*compose("kitchen", 2), np.random.default_rng(3))
    assert parse_prompt(text).doubts  # the rules are told where they guess
    rng = np.random.default_rng(1)
    for i in range(20):  # requests: a few objects, and every relation's target is in the program
        text, program = reword(*compose(["bedroom", "office", "street"][i % 3], i), rng, few=True)
        lines = [line.split() for line in program.splitlines()[1:-1]]
        assert 1 <= len(lines) <= 10 and {w[-1] for w in lines if w[-2] in TARGET_RELATIONS} <= {w[0] for w in lines}
    plain = training_pairs(2, variants=2, requests=2, seed=4)
    more = training_pairs(2, variants=2, requests=2, seed=4, reworded=2)
    assert [p for k, p in enumerate(more) if k % 6 < 4] == plain  # reworded captions come on top, from their own stream


def test_request_prompts_mean_what_the_rule_parser_reads():
    rng = np.random.default_rng(5)
    agree = 0
    for i, scene in enumerate(["bedroom", "kitchen", "office", "park", "street", "living_room"] * 5):
        text, program = request(*compose(scene, i), rng)
        asked = {(r.label, r.count, r.color is None) for r in parse_program(program).requests}
        read = {(r.label, r.count, r.color is None) for r in parse_prompt(text).requests}
        agree += asked == read
    assert agree == 30


def test_training_lowers_the_loss_and_the_model_round_trips(tmp_path):
    pairs = [(a.lower(), b) for a, b in training_pairs(12, variants=2, seed=2)]
    tok = train_tokenizer([t for p in pairs for t in p], vocab_size=400)
    model = new_model("tiny", tok.get_vocab_size(), d_model=64, n_layers=2, n_heads=4, n_kv_heads=2)
    ids, start = encode_pair(tok, pairs[0][0], pairs[0][1], 512)
    assert ids[start - 1] == 3 and ids[-1] == 2  # <sep> before the target, <eos> after it
    history = train(model, tok, pairs, TrainConfig(steps=40, batch_size=8, lr=3e-3, warmup=5, log_every=10), log=lambda s: None)
    assert history[-1]["loss"] < history[0]["loss"] - 0.5
    lm = LayoutLM(model, tok)
    lm.save(tmp_path)
    again = LayoutLM.load(tmp_path)
    x = torch.tensor([encode_pair(tok, "a bedroom", None, 64)[0]])
    assert torch.equal(lm.model(x)[0], again.model(x)[0])


def test_text_encoder_tokens_and_mask(tmp_path):
    pairs = training_pairs(4, variants=1, seed=3)
    tok = train_tokenizer([t for p in pairs for t in p], vocab_size=300)
    torch.manual_seed(0)
    enc = TextEncoder(new_model("tiny", tok.get_vocab_size(), d_model=32, n_layers=2, n_heads=2, n_kv_heads=1), tok, max_tokens=64)
    texts = ["a bedroom", "A kitchen with a red fridge and four chairs around a table", "x" * 100_000]
    tokens, mask = enc.encode(texts)
    assert tokens.shape[:2] == mask.shape and tokens.shape[2] == enc.dim == 32 and mask.dtype == torch.bool
    assert mask.sum(1).tolist()[0] < mask.sum(1).tolist()[1] <= 64 and mask.shape[1] == 64  # the long text is cut
    assert torch.all(tokens[~mask] == 0)
    alone, alone_mask = enc.encode(texts[:1])  # right padding never changes a real token (causal)
    n = int(alone_mask.sum())
    torch.testing.assert_close(tokens[0, :n], alone[0, :n], rtol=0, atol=1e-5)
    torch.testing.assert_close(enc.encode(["A BEDROOM"])[0], alone)  # prompts are read lower-cased
    with pytest.raises(ValueError):
        enc.encode([])
    with pytest.raises(TypeError):
        enc.encode("a bedroom")


@pytest.mark.parametrize("prompt", ["", "x" * 1_000_000, bytes(range(256)).decode("latin-1") * 50,
                                    "end\nscene scene\n#zzzzzz 99 on on on " * 30, "🛏️" * 500])
def test_hostile_prompts_give_a_layout_or_a_clear_error(prompt):
    lm = LayoutLM.load(SHIPPED)
    try:
        layout, _ = lm.layout(prompt)
    except ProgramError as e:
        assert "token cap" in str(e)
    else:
        assert layout.validate("decoded") is layout


def test_beam_search_decodes_a_valid_program_with_the_shipped_model():
    lm = LayoutLM.load(SHIPPED)
    prompt = "a bedroom with a blue bed, two white lamps and a rug under the bed"
    greedy, beams = lm.program(prompt), lm.program(prompt, beams=3)
    for program in (greedy, beams):
        assert {(r.label, r.count) for r in parse_program(program).requests} >= {("bed", 1), ("lamp", 2), ("rug", 1)}
    assert lm.program(prompt, beams=3) == beams  # deterministic
    with pytest.raises(ValueError, match="beams"):
        lm.program(prompt, beams=0)


def test_layout_for_prompt_engines_determinism_and_fallback(monkeypatch, tmp_path):
    import worldgen.lm as wlm

    prompt = "a kitchen with a red fridge and two wooden chairs"
    a, b = wlm.layout_for_prompt(prompt, "lm", seed=3), wlm.layout_for_prompt(prompt, "lm", seed=3)
    assert a.engine == "lm" and a.layout.to_json() == b.layout.to_json()
    assert sorted(o.label for o in a.layout.objects if o.source == "prompt") == ["chair", "chair", "fridge"]
    assert {o.label for o in a.layout.objects if o.source == "completion"}.isdisjoint({"chair", "fridge"})
    bare = wlm.layout_for_prompt(prompt, "lm", seed=3, complete=False)
    assert sorted(o.label for o in bare.layout.objects) == ["chair", "chair", "fridge"]
    rules = wlm.layout_for_prompt(prompt + " and a dragon")  # the default
    assert rules.engine == "rules" and rules.ignored == [] and "'dragon'" in rules.warnings[0]  # a generic object
    # auto: the rules when they know every word (or meet a word like no word they know) ...
    assert wlm.layout_for_prompt(prompt + " and a dragon", "auto").engine == "rules"
    # ... and the model when they meet words that look like typing mistakes
    typed = wlm.layout_for_prompt("a kitchen with a red fidge and two wodden chairs", "auto", seed=3, complete=False)
    assert typed.engine == "lm" and "'fidge', 'wodden'" in typed.warnings[0]
    assert typed.layout.counts() == {"fridge": 1, "chair": 2}
    # ... or a word order they only guess at: the rules would paint the lamps blue
    reordered = wlm.layout_for_prompt("a bedroom with a bed in blue and two white lamps", "auto", seed=3, complete=False)
    assert reordered.engine == "lm" and "before the count 'two'" in reordered.warnings[0]
    assert reordered.layout.counts() == {"bed": 1, "lamp": 2}
    assert {(o.label, o.color) for o in reordered.layout.objects} == {("bed", COLORS["blue"]), ("lamp", COLORS["white"])}
    by_rules = wlm.layout_for_prompt("a bedroom with a bed in blue and two white lamps", "rules")
    assert any("before the count 'two'" in w for w in by_rules.warnings)  # the rules say where they guessed
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model.pt").write_bytes(b"pickle")
    kept = wlm.layout_for_prompt("a red fidge", "auto", checkpoint=tmp_path / "broken")  # auto still gives a layout
    assert kept.engine == "rules" and "pickle checkpoints are refused" in kept.warnings[0]
    with pytest.raises(ValueError, match="pickle checkpoints are refused"):
        wlm.layout_for_prompt("a red fidge", "lm", checkpoint=tmp_path / "broken")
    with pytest.raises(ValueError, match="engine must be one of"):
        wlm.layout_for_prompt(prompt, engine="gpt")

    from worldgen import cli
    from worldgen.config import GenerateConfig

    assert cli.LAYOUT_ENGINE == wlm.DEFAULT_ENGINE == GenerateConfig().engine

    class CappedModel:  # failure injection: a decode that runs into the token cap
        def reads_whole(self, prompt):
            return True

        def program(self, prompt):
            raise ProgramError("decoding reached the 320-token cap before the program ended")

    monkeypatch.setattr(wlm, "_load_cached", lambda folder: CappedModel())
    fell_back = wlm.layout_for_prompt(prompt, "lm", complete=False)
    assert fell_back.engine == "rules" and "token cap" in fell_back.warnings[0]
    assert fell_back.layout.counts() == {"fridge": 1, "chair": 2}


def test_the_model_may_not_invent_and_auto_keeps_the_better_reading(monkeypatch):
    import worldgen.lm as wlm

    class Inventor:  # failure injection: a model that adds a wardrobe and reads the bed's colour late
        def reads_whole(self, prompt):
            return True

        def program(self, prompt):
            return "scene bedroom\nbed blue 1\nwardrobe white 1\nlamp white 2\nend"

    monkeypatch.setattr(wlm, "_load_cached", lambda folder: Inventor())
    prompt = "a bedroom with a bed in blue, two white lamps and a red hammock"
    made = wlm.layout_for_prompt(prompt, "lm", seed=0, complete=False)
    assert sorted((o.label, o.name) for o in made.layout.objects) == [("bed", ""), ("lamp", ""), ("lamp", ""),
                                                                         ("object", "hammock")]
    assert any("wardrobe" in w and "does not name" in w for w in made.warnings)
    auto = wlm.layout_for_prompt(prompt, "auto", seed=0, complete=False)
    assert auto.engine == "lm"  # the rules doubt the word order; the model found every kind they found

    class Forgetful(Inventor):  # a model that misses the lamps: auto keeps the rules' reading
        def program(self, prompt):
            return "scene bedroom\nbed blue 1\nend"

    monkeypatch.setattr(wlm, "_load_cached", lambda folder: Forgetful())
    auto = wlm.layout_for_prompt(prompt, "auto", seed=0, complete=False)
    assert auto.engine == "rules" and "missed lamp" in auto.warnings[0]
    assert wlm.layout_for_prompt("a bedroom with a bed in blue and no lamps", "lm", seed=0).layout.counts().get("lamp") is None
    monkeypatch.undo()  # the shipped model: a prompt past what it reads stays with the rules
    long = prompt + ". " + "The light is soft and the mood is calm. " * 40
    made = wlm.layout_for_prompt(long, "auto", seed=0)
    assert made.engine == "rules" and "longer than the language model reads" in made.warnings[0]


def test_training_continues_from_a_checkpoint_and_a_retrained_folder_is_reloaded(tmp_path):
    import worldgen.lm as wlm

    cfg = TrainConfig(steps=3, batch_size=4, warmup=1, log_every=1)
    small = dict(d_model=32, n_layers=1, n_heads=2, n_kv_heads=1, n_experts=2)
    first = train_layout_lm(tmp_path / "a", n_layouts=4, variants=1, requests=1, config=cfg, vocab_size=300,
                            model_options=small, log=lambda s: None)
    cached = wlm._load_cached(tmp_path / "a")
    assert wlm._load_cached(tmp_path / "a") is cached
    more = train_layout_lm(tmp_path / "a", n_layouts=4, variants=1, requests=1, config=cfg, seed=1, init=tmp_path / "a",
                           log=lambda s: None)
    assert more.tokenizer.to_str() == first.tokenizer.to_str() and more.model.cfg == first.model.cfg
    record = json.loads((tmp_path / "a" / "training.json").read_text())
    assert record["init"] == str(tmp_path / "a") and record["init_training"]["seed"] == 0 and record["seed"] == 1
    reloaded = wlm._load_cached(tmp_path / "a")  # the folder was rewritten: not the stale model
    assert reloaded is not cached
    x = torch.tensor([encode_pair(more.tokenizer, "a bedroom", None, 64)[0]])
    assert torch.equal(reloaded.model(x)[0], more.model(x)[0])
    with pytest.raises(ValueError, match="cannot write a checkpoint"):
        (tmp_path / "file").write_text("x")
        train_layout_lm(tmp_path / "file", n_layouts=2, config=cfg, log=lambda s: None)


def test_training_under_torchrun_with_two_cpu_ranks(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517", "-m",
           "worldgen.cli", "train", "lm", "--out", str(tmp_path / "ckpt"), "--layouts", "10", "--variants", "1",
           "--requests", "1", "--steps", "3", "--batch-size", "4"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    lm = LayoutLM.load(tmp_path / "ckpt")  # written once, by rank 0, and loadable
    assert lm.model.cfg.vocab_size == lm.tokenizer.get_vocab_size()
