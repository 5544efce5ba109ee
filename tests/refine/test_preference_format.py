"""Rankings -> preference pairs -> files and back, the ranking input language, and the clear errors (no model)."""
import json

import pytest

from selfclone.errors import DataError
from selfclone.dataset.preferences import (PreferencePair, Ranking, load_rankings, pairs_from_rankings,
                                        read_preferences, split_by_prompt, write_preferences)
from selfclone.refine.rank import RankingLog, RankInputError, RankItem, RankPrompt, parse_response

PROMPT = ({"role": "system", "content": "You are Maggie."}, {"role": "user", "content": "Tea?"})
CANDIDATES = ("aye, stewed.", "I am an AI.", "milk after, always.", "no thanks")


def ranking(kind, order, edited=None, candidates=CANDIDATES):
    return Ranking(1, "m", PROMPT, candidates, tuple(order), kind, edited)


def as_sets(pairs):
    return {(p.chosen, p.rejected) for p in pairs}


def test_a_full_order_gives_every_earlier_over_later_pair():
    pairs = ranking("order", [2, 0, 3, 1]).pairs()
    c = CANDIDATES
    assert as_sets(pairs) == {(c[2], c[0]), (c[2], c[3]), (c[2], c[1]), (c[0], c[3]), (c[0], c[1]), (c[3], c[1])}
    assert all(p.prompt == PROMPT for p in pairs)


def test_best_worst_and_edit_pairs():
    c = CANDIDATES
    assert as_sets(ranking("best_worst", [0, 1]).pairs()) == {
        (c[0], c[2]), (c[0], c[3]), (c[0], c[1]), (c[2], c[1]), (c[3], c[1])}
    edited = ranking("edit", [2], edited="milk after. always. over.").pairs()
    assert as_sets(edited) == {("milk after. always. over.", x) for x in c}


def test_single_candidate_and_ties_give_clear_errors():
    with pytest.raises(DataError, match="single candidate"):
        pairs_from_rankings([ranking("order", [0], candidates=("only one",))])
    with pytest.raises(DataError, match="every candidate ties"):
        pairs_from_rankings([ranking("order", [0, 1], candidates=("same", "same "))])
    with pytest.raises(RankInputError, match="ranked twice: a ranking cannot have ties"):
        parse_response("1 1 2", 3)
    with pytest.raises(RankInputError, match="ties are not allowed"):
        parse_response("1=2 3", 3)
    with pytest.raises(RankInputError, match="only one candidate"):
        parse_response("1", 1)


@pytest.mark.parametrize("line, n, kind, order", [
    ("2 1 4 3", 4, "order", (1, 0, 3, 2)), ("2,1,3", 3, "order", (1, 0, 2)), ("b2 w4", 4, "best_worst", (1, 3)),
    ("W1 B3", 3, "best_worst", (2, 0)), ("e2", 4, "edit", (1,)), ("s", 4, "skip", ()), ("q", 4, "quit", ())])
def test_parse_response(line, n, kind, order):
    response = parse_response(line, n)
    assert (response.kind, response.order) == (kind, order)


@pytest.mark.parametrize("line, message", [
    ("2 1", r"leaves out candidate\(s\) 3"), ("1 2 5", "candidate 5 does not exist"), ("b1 w1", "ranked twice"),
    ("b1", "one best and one worst"), ("e9", "does not exist"), ("best", "could not read"), ("", "nothing typed")])
def test_parse_response_rejects(line, message):
    with pytest.raises(RankInputError, match=message):
        parse_response(line, 3)


def test_export_in_both_formats_validates_and_reads_back(tmp_path):
    pairs = ranking("order", [2, 0, 3, 1]).pairs()
    write_preferences(tmp_path / "dpo.jsonl", pairs, "dpo")
    rows = [json.loads(line) for line in (tmp_path / "dpo.jsonl").read_text().splitlines()]
    for row in rows:                                    # OpenAI's DPO format, exactly these keys
        assert set(row) == {"input", "preferred_output", "non_preferred_output"}
        assert row["input"] == {"messages": list(PROMPT)}
        for side in ("preferred_output", "non_preferred_output"):
            assert len(row[side]) == 1 and row[side][0]["role"] == "assistant"
            assert isinstance(row[side][0]["content"], str)
    assert [(p.prompt, p.chosen, p.rejected) for p in read_preferences(tmp_path / "dpo.jsonl")] == \
        [(p.prompt, p.chosen, p.rejected) for p in pairs]
    write_preferences(tmp_path / "pairs.jsonl", pairs, "pairs")
    row = json.loads((tmp_path / "pairs.jsonl").read_text().splitlines()[0])
    assert set(row) == {"prompt", "chosen", "rejected"}
    assert as_sets(read_preferences(tmp_path / "pairs.jsonl")) == as_sets(pairs)


@pytest.mark.parametrize("record, message", [
    ({"input": {"messages": [{"role": "user", "content": "hi"}]}, "preferred_output": [{"role": "assistant",
      "content": "aye"}]}, "missing 'non_preferred_output'"),
    ({"input": {"messages": [{"role": "user", "content": "hi"}]}, "preferred_output": [{"role": "assistant",
      "content": "aye"}], "non_preferred_output": [{"role": "assistant", "content": "aye"}]}, "same text: a tie"),
    ({"input": {"messages": [{"role": "assistant", "content": "hi"}]}, "preferred_output": [{"role": "assistant",
      "content": "a"}], "non_preferred_output": [{"role": "assistant", "content": "b"}]}, "must end with the user's turn"),
    ({"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "user", "content": "a"}],
      "rejected": "b"}, "must be an assistant message"),
    ({"prompt": [{"role": "human", "content": "hi"}], "chosen": "a", "rejected": "b"}, "role is 'human'"),
    ({"text": "hello"}, "unknown preference row")])
def test_bad_preference_rows_name_the_line_and_field(tmp_path, record, message):
    path = tmp_path / "bad.jsonl"
    good = PreferencePair(PROMPT, "a", "b").to_dpo()
    path.write_text(json.dumps(good) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(DataError, match=message) as err:
        read_preferences(path)
    assert err.value.line == 2 and str(path) in str(err.value)


def test_split_holds_out_whole_prompts():
    pairs = [PreferencePair(({"role": "user", "content": f"q{i}"},), f"a{j}", "b") for i in range(20) for j in range(3)]
    train, held = split_by_prompt(pairs, seed=1)
    assert held and not {p.prompt_key for p in train} & {p.prompt_key for p in held}
    assert len(train) + len(held) == 60 and len(held) % 3 == 0
    assert split_by_prompt(pairs[:9]) == (pairs[:9], [])         # fewer than 10 prompts: nothing held out


def test_store_round_trip_and_edit_becomes_an_example(ws):
    with ws.store() as store:
        log = RankingLog(store)
        item = log.add_item("m", RankPrompt(PROMPT, "real reply"), CANDIDATES[:3])
        assert [i.id for i in log.pending("m")] == [item.id]
        log.save_ranking(item, "edit", [1], "i'd put the kettle on")
        assert log.pending("m") == [] and log.counts("m") == {"ranked": 1}
        other = log.add_item("m", RankPrompt(PROMPT[1:]), CANDIDATES[:2])
        with pytest.raises(DataError, match="ranked twice"):
            log.save_ranking(other, "order", [0, 0])
        assert log.pending("m") == [other]                # a refused ranking leaves the item pending
        rankings = load_rankings(store, "m")
        example = json.loads(store.db.execute("select messages_json from examples where source = 'rank'").fetchone()[0])
    assert [(r.kind, r.edited) for r in rankings] == [("edit", "i'd put the kettle on")]
    assert example == list(PROMPT) + [{"role": "assistant", "content": "i'd put the kettle on"}]
    assert isinstance(item, RankItem) and item.prompt.reference == "real reply"
