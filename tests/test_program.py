import pytest
import torch

from rtfm.language import Grok, GrokConfig
from rtfm.language.grammar import GrammarConstraint
from rtfm.language.tokenizer import load_tokenizer, save_tokenizer, train_tokenizer
from worldgen.procgen.composers import compose
from worldgen.procgen.program import LayoutGrammar, ProgramError, layout_from_program, parse_program, program_from_layout

PROGRAM = "scene bedroom\nbed navy 1\ntable wooden 2 near bed\nlamp white 1 small on table\nrug #aa3300 1 under bed\nend"


def test_program_round_trip_through_a_layout():
    lay, warnings = layout_from_program(PROGRAM, seed=0)
    assert lay.counts() == {"bed": 1, "table": 2, "lamp": 1, "rug": 1} and not warnings
    assert any(o.color == "#aa3300" for o in lay.objects)
    composed, relations = compose("living_room", 4)
    again, _ = layout_from_program(program_from_layout(composed, relations), seed=4)
    assert again.counts() == composed.counts()


@pytest.mark.parametrize("text, ok", [
    ("sc", True), ("scene bed", True), ("scene bedroom\n", True), ("scene bedroom\nbed na", True),
    ("scene bedroom\nbed navy 1 on", True), ("scene bedroom\nbed navy 1 on\n", False),
    ("scene bedroom\nbed #12", True), ("scene bedroom\nbed #12z", False), ("scene castle\n", False),
    ("scene bedroom\ndragon", False), ("scene bedroom\nbed navy 25", False), ("scene bedroom\nend", True),
    ("scene bedroom\nend\nbed", False), ("scene bedroom\nbed navy 1 corner wall", False),
])
def test_grammar_prefixes(text, ok):
    assert LayoutGrammar().allows(text) is ok


def test_program_errors_name_the_line():
    with pytest.raises(ProgramError, match="line 2"):
        parse_program("scene bedroom\nbed navy many\nend")
    with pytest.raises(ProgramError):
        parse_program("scene bedroom\nbed navy 1")  # no end


def test_a_layouts_own_program_may_exceed_the_decoders_object_budget():
    text = "scene cafe\n" + "".join(f"chair any {1 + i % 3}\n" for i in range(25)) + "end"
    with pytest.raises(ProgramError, match="line 26"):
        parse_program(text)  # 24 object lines: what the decoder may emit
    assert len(parse_program(text, max_objects=25).requests) == 25


def test_constrained_decoding_always_parses(tmp_path):
    texts = [PROGRAM] + [program_from_layout(*compose(t, s)) for t in ("bedroom", "park", "kitchen") for s in range(3)]
    tok = train_tokenizer(texts + ["a bedroom with a navy bed"], vocab_size=300)
    save_tokenizer(tok, tmp_path)
    tok = load_tokenizer(tmp_path)
    strings = [tok.decode([i]) for i in range(tok.get_vocab_size())]
    torch.manual_seed(0)
    model = Grok(GrokConfig(vocab_size=tok.get_vocab_size(), d_model=32, n_layers=1, n_heads=2, n_kv_heads=1, n_experts=2,
                            max_seq_len=400)).eval()
    prompt = torch.tensor([[1] + tok.encode("a bedroom with a navy bed").ids + [3]])
    grammar = LayoutGrammar(max_objects=4)
    constraint = GrammarConstraint(strings, grammar.allows, grammar.is_complete, eos_id=2, prompt_length=prompt.shape[1])
    for seed in range(3):  # an untrained model, sampled: the grammar alone makes the output valid
        out = model.generate(prompt, 300, temperature=1.0, logits_filter=constraint, stop_token=2,
                             generator=torch.Generator().manual_seed(seed))
        ids = out[0, prompt.shape[1]:].tolist()
        assert ids[-1] == 2
        program = parse_program(constraint.text(ids[: ids.index(2)]))
        assert len(program.requests) <= 4


def test_no_dead_ends_after_a_complete_slot():
    g = LayoutGrammar()
    assert not g.allows("scene bedroom\nbed navy 1 wall ")  # nothing can follow a place relation
    assert g.allows("scene bedroom\nbed navy 1 wall\n")


def test_trie_walk_allows_exactly_what_testing_every_token_allows():
    texts = [PROGRAM] + [program_from_layout(*compose(t, s)) for t in ("office", "street") for s in range(2)]
    tok = train_tokenizer(texts, vocab_size=300)
    strings = [tok.decode([i]) for i in range(tok.get_vocab_size())]
    grammar = LayoutGrammar()
    constraint = GrammarConstraint(strings, grammar.allows, grammar.is_complete, eos_id=2, prompt_length=0)
    program = PROGRAM + "\nchair #a0b1c2 3 small corner"
    program = program.replace("\nend", "") + "\nend"
    for k in range(len(program) + 1):
        text = program[:k]
        brute = [i for i, s in enumerate(strings) if s and i != 2 and grammar.allows(text + s)]
        brute += [2] if grammar.is_complete(text) else []
        assert constraint.allowed(text) == sorted(brute), text


def test_grammar_state_memo_allows_what_the_walk_allows():
    # Texts with one grammar state share their allowed tokens, also near the object budget
    # (max_objects=3 here) and across programs decoded with one memo.
    texts = [PROGRAM] + [program_from_layout(*compose(t, s)) for t in ("office", "park") for s in range(2)]
    tok = train_tokenizer(texts, vocab_size=300)
    strings = [tok.decode([i]) for i in range(tok.get_vocab_size())]
    grammar, memo = LayoutGrammar(max_objects=3), {}
    constraint = GrammarConstraint(strings, grammar.allows, grammar.is_complete, eos_id=2, prompt_length=0,
                                   state=grammar.state, memo=memo)
    fresh = GrammarConstraint(strings, grammar.allows, grammar.is_complete, eos_id=2, prompt_length=0)
    programs = ["scene park\nbench green 2 near path\npath any 1\nrock gray 3\nend",
                "scene park\nrock gray 3\nbench green 2 near path\nend", "scene office\ndesk any 1\nchair black 4 front desk\nend",
                "scene park\nrock gray 3\nrock gray 3\nrock gray 3\nrock gray 3"]  # the last runs past the budget
    for program in programs:
        for k in range(len(program) + 1):
            expected = fresh.allowed(program[:k]) or [2]
            assert constraint.allowed_ids(program[:k]).tolist() == expected, program[:k]
    assert 0 < len(memo) < sum(len(p) for p in programs)  # states were shared


def test_hex_colours_only_from_the_prompt():
    g = LayoutGrammar(hex_colors=("#AA3300",))
    assert g.is_complete(PROGRAM) and g.allows("scene bedroom\nrug #aa3")
    assert not g.allows("scene bedroom\nrug #ab") and not g.allows("scene bedroom\nrug #aa33001")
    assert not LayoutGrammar(hex_colors=()).allows("scene bedroom\nrug #")
    assert LayoutGrammar().allows("scene bedroom\nrug #12345")  # parsing a written program: any hex
