import torch

from rtfm.language.tokenizer import train_tokenizer
from rtfm.language.train import TrainConfig, encode_pair, new_model, train
from worldgen.lm import LayoutLM
from worldgen.procgen.paraphrase import describe, training_pairs
from worldgen.procgen.composers import compose
from worldgen.procgen.program import parse_program
from worldgen.procgen.text_rules import layout_from_prompt
import numpy as np


def test_paraphrases_keep_the_facts():
    layout, relations = compose("bedroom", 7)
    rng = np.random.default_rng(0)
    for plain in (True, False, False, False):
        text, _ = describe(layout, relations, rng, plain=plain)
        # The rule-based reader recovers the same objects from every paraphrase.
        assert layout_from_prompt(text, seed=0)[1].ignored == []
    pairs = training_pairs(3, variants=2, seed=1)
    assert len(pairs) == 6 and all(parse_program(p) for _, p in pairs)


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
