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
from worldgen.lm import LayoutLM
from worldgen.procgen.composers import compose
from worldgen.procgen.paraphrase import describe, request, training_pairs
from worldgen.procgen.program import ProgramError, parse_program
from worldgen.procgen.text_rules import layout_from_prompt, parse_prompt

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


def test_request_prompts_mean_what_the_rule_parser_reads():
    rng = np.random.default_rng(5)
    agree = 0
    for i, scene in enumerate(["bedroom", "kitchen", "office", "park", "street", "living_room"] * 5):
        text, program = request(*compose(scene, i), rng)
        asked = {(r.label, r.count, r.color is None) for r in parse_program(program).requests}
        read = {(r.label, r.count, r.color is None) for r in parse_prompt(text).requests}
        agree += asked == read
    # Not all: the engine also writes plurals and colour words ("oak") the rule parser misreads.
    assert agree >= 25


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


def test_layout_for_prompt_engines_determinism_and_fallback(monkeypatch):
    import worldgen.lm as wlm

    prompt = "a kitchen with a red fridge and two wooden chairs"
    a, b = wlm.layout_for_prompt(prompt, "lm", seed=3), wlm.layout_for_prompt(prompt, "lm", seed=3)
    assert a.engine == "lm" and a.layout.to_json() == b.layout.to_json()
    assert sorted(o.label for o in a.layout.objects) == ["chair", "chair", "fridge"]
    rules = wlm.layout_for_prompt(prompt + " and a dragon")  # the default
    assert rules.engine == "rules" and rules.ignored == ["dragon"]
    with pytest.raises(ValueError, match="engine must be one of"):
        wlm.layout_for_prompt(prompt, engine="gpt")

    class CappedModel:  # failure injection: a decode that runs into the token cap
        def layout(self, prompt, seed=0):
            raise ProgramError("decoding reached the 320-token cap before the program ended")

    monkeypatch.setattr(wlm, "_cached", lambda folder: CappedModel())
    fell_back = wlm.layout_for_prompt(prompt, "lm")
    assert fell_back.engine == "rules" and "token cap" in fell_back.warnings[0]
    assert fell_back.layout.counts() == {"fridge": 1, "chair": 2}


def test_training_under_torchrun_with_two_cpu_ranks(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517", "-m",
           "worldgen.cli", "train", "lm", "--out", str(tmp_path / "ckpt"), "--layouts", "10", "--variants", "1",
           "--requests", "1", "--steps", "3", "--batch-size", "4"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    lm = LayoutLM.load(tmp_path / "ckpt")  # written once, by rank 0, and loadable
    assert lm.model.cfg.vocab_size == lm.tokenizer.get_vocab_size()
