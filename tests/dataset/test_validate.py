"""The dataset doctor: every check triggered on a crafted file, and its fix applied (or declined) for real."""
from __future__ import annotations

import json
import random

import pytest

from selfclone.dataset import neardup
from selfclone.dataset.chat import read_examples
from selfclone.dataset.token_stats import percentiles
from selfclone.dataset.validate import (PrepareSettings, accept_all, accept_lossless, output_paths, prepare,
                                        write_prepared)
from selfclone.errors import DataError
from selfclone.train.settings import SFTSettings

WORDS = ("tide bread kettle harbour window ferry garden letter river candle market pocket ladder orange "
         "violin pebble lantern meadow pencil blanket rocket saddle tunnel wagon anchor button castle").split()


def sentence(rng, lo=5, hi=12):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def chat(user, reply, **extra):
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": reply}], **extra}


@pytest.fixture
def run(counter, tmp_path):
    def run(path, decide=accept_all, **settings):
        settings.setdefault("throughput_file", tmp_path / "no-bench.json")
        return prepare(path, PrepareSettings(**settings), decide=decide, counter=counter)
    return run


def only(prep, check):
    found = [f for f in prep.findings if f.check == check]
    assert found, f"no {check} finding in {[f.check for f in prep.findings]}"
    return found[0] if len(found) == 1 else found


def pairs(examples):
    return [(e.messages[-2].content if len(e.messages) > 1 else None, e.reply()) for e in examples]


# --- the legacy prompt/completion checks ------------------------------------------------------------------

def test_legacy_csv_every_fix(run, tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("Prompt,Completion,source,notes\n"
                    "What's up? ->, not much END,whatsapp,x\n"
                    "Dinner tonight? ->, sure thing END,telegram,\n"
                    "Where are you? ->, on the train END,email,\n"
                    "Where are you? ->, on the train END,email,\n"
                    "Hello? ->,,email,\n")
    prep = run(path)
    assert [f.message for f in prep.findings if f.check == "required_columns"] == [
        "The `prompt` column/key should be lowercase", "The `completion` column/key should be lowercase"]
    assert "['source', 'notes']" in only(prep, "extra_columns").message
    assert only(prep, "empty_completions").rows == [6]
    assert "` ->` is a separator" in only(prep, "prompt_separator").message
    assert "` END` is an end token" in only(prep, "completion_ending").message
    assert only(prep, "leading_space").rows == [2, 3, 4, 5]
    assert only(prep, "exact_duplicates").rows == [5]
    assert all(f.applied for f in prep.findings if f.fix)
    written = write_prepared(prep, tmp_path / "out")
    assert written == [output_paths(tmp_path / "out")[0]]
    assert pairs(read_examples(written[0])) == [("What's up?", "not much"), ("Dinner tonight?", "sure thing"),
                                                ("Where are you?", "on the train")]
    assert [e.meta.get("source") for e in prep.train] == ["whatsapp", "telegram", "email"]


def test_alias_columns_lossless_and_declined(run, tmp_path):
    path = tmp_path / "qa.json"
    path.write_text(json.dumps([{"Question": "hi?", "Answer": "hello"}, {"Question": "why?", "Answer": "because"}]))
    prep = run(path, decide=accept_lossless)
    assert [f.applied for f in prep.findings if f.check == "required_columns"] == [True, True]
    assert pairs(prep.train) == [("hi?", "hello"), ("why?", "because")]

    declined = run(path, decide=lambda f: False)
    assert declined.blocking and declined.blocking[0].check == "required_columns"
    with pytest.raises(DataError, match="nothing written"):
        write_prepared(declined, tmp_path / "no")
    assert not list(tmp_path.glob("no_*"))


def test_missing_column_is_an_error_naming_the_columns(run, tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", [{"foo": "a", "completion": "b"}])
    prep = run(path)
    assert prep.blocking and "`prompt` column/key is missing (columns found: foo, completion)" in prep.blocking[0].message


def test_wrong_types_name_the_rows(run, tmp_path):
    path = write_jsonl(tmp_path / "types.jsonl", [{"prompt": 42, "completion": 7.5}, {"prompt": "x", "completion": ["a"]},
                                                  {"prompt": "y", "completion": None}, {"prompt": "z", "completion": "okay"}])
    refused = run(path, decide=accept_lossless)
    assert refused.blocking[0].rows == [2] and "in completion" in refused.blocking[0].message
    with pytest.raises(DataError) as exc:
        write_prepared(refused)
    assert "rows 2" in exc.value.message and "-q" in exc.value.hint
    prep = run(path)
    assert only(prep, "empty_completions").rows == [3]
    assert pairs(prep.train) == [("42", "7.5"), ("z", "okay")]


def test_common_prefixes_removed(run, tmp_path):
    rows = [{"prompt": f"Reply as Sam to this message: {q}", "completion": f"Sam says: {a}"}
            for q, a in [("hi", "hey you"), ("lunch?", "sure, noon"), ("late?", "ten minutes")]]
    prep = run(write_jsonl(tmp_path / "p.jsonl", rows))
    assert only(prep, "prompt_prefix").severity == "warning"
    assert only(prep, "completion_prefix").applied
    assert pairs(prep.train) == [("hi", "hey you"), ("lunch?", "sure, noon"), ("late?", "ten minutes")]


def test_identical_prompts_become_open_ended(run, tmp_path):
    rows = [{"prompt": "Write a post:", "completion": t} for t in ("first one", "second one", "third one")]
    path = write_jsonl(tmp_path / "same.jsonl", rows)
    assert run(path, decide=accept_lossless).blocking[0].check == "prompt_separator"
    prep = run(path)
    assert only(prep, "task_type").data["task"] == "open-ended generation"
    assert [[t.role for t in e.messages] for e in prep.train] == [["assistant"]] * 3


def test_unconvertible_row(run, tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [{"prompt": "->", "completion": "xyz"}, {"prompt": "a", "completion": "fine thanks"}])
    prep = run(path)
    assert only(prep, "convert")[0].rows == [1] and "empty prompt" in only(prep, "convert")[0].message
    assert pairs(prep.train) == [("a", "fine thanks")]


def test_task_types(run, tmp_path):
    txt = tmp_path / "posts.txt"
    txt.write_text("my first post about bees\nanother post about the sea\n")
    prep = run(txt)
    assert only(prep, "task_type").data["task"] == "open-ended generation"
    assert any("empty prompt" in n for n in prep.notices)
    labels = write_jsonl(tmp_path / "cls.jsonl", [{"prompt": f"review {i}", "completion": ["good", "bad"][i % 2]}
                                                  for i in range(30)])
    assert only(run(labels), "task_type").data["task"] == "classification"


# --- the chat checks ------------------------------------------------------------------------------------

def test_chat_format_every_check(run, tmp_path):
    u = {"role": "user", "content": "hi"}
    rows = [
        chat("fine?", "all good"),                                                        # 1 clean
        ["not", "an", "object"],                                                          # 2 data_type
        {"msgs": []},                                                                     # 3 missing messages
        {"Messages": [u, {"role": "assistant", "content": "cased key"}]},                 # 4 key case
        {"messages": ["text", {"role": "assistant", "content": "x"}]},                    # 5 message type
        {"messages": [{"content": "no role"}, {"role": "assistant", "content": "x"}]},    # 6 missing key
        {"messages": [dict(u, name="ann"), {"role": "assistant", "content": "named"}]},   # 7 unknown key
        {"messages": [{"role": "Human", "content": "yo"}, {"role": "bot", "content": "aliased"}]},   # 8 aliases
        {"messages": [u, {"role": "tool", "content": "{}"}, {"role": "assistant", "content": "x"}]},  # 9 role
        {"messages": [u, {"role": "assistant", "content": 4200}]},                        # 10 number content
        {"messages": [u, {"role": "assistant", "content": [{"type": "text", "text": "parts"}]}]},    # 11 parts
        {"messages": [u, {"role": "assistant", "content": ""}]},                          # 12 empty content
        {"messages": [{"role": "system", "content": ""}, u, {"role": "assistant", "content": "sys"}]},  # 13
        {"messages": [dict(u, weight=1), {"role": "assistant", "content": "weighted", "weight": 2}]},  # 14
        {"messages": [u, {"role": "user", "content": "no reply"}]},                       # 15 no assistant
        {"messages": [{"role": "assistant", "content": "unprompted"}]},                   # 16 no user
    ]
    prep = run(write_jsonl(tmp_path / "chat.jsonl", rows))
    assert prep.shape == "chat"
    expect = {"data_type": [2], "message_type": [5], "message_missing_key": [6], "message_unrecognized_key": [7],
              "weight": [14], "example_missing_assistant_message": [15], "missing_user": [16]}
    for check, lines in expect.items():
        assert only(prep, check).rows == lines and only(prep, check).applied, check
    missing_list = only(prep, "missing_messages_list")
    assert [f.rows for f in missing_list] == [[4], [3]]
    roles = only(prep, "unrecognized_role")
    assert roles[0].rows == [9] and "tool" in roles[0].message and roles[1].rows == [8]
    content = only(prep, "missing_content")
    assert content[0].rows == [12] and content[1].rows == [10, 11, 13]
    assert "missing_system" in [f.check for f in prep.findings]
    out = {e.meta["line"]: [t.to_dict() for t in e.messages] for e in prep.train}
    assert sorted(out) == [1, 4, 7, 8, 10, 11, 13, 14]
    assert out[8] == [{"role": "user", "content": "yo"}, {"role": "assistant", "content": "aliased"}]
    assert out[10][1]["content"] == "4200" and out[11][1]["content"] == "parts"
    assert out[13][0] == {"role": "user", "content": "hi"}
    assert out[14] == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "weighted"}]
    assert out[7][0] == {"role": "user", "content": "hi"}


def test_lossless_policy_keeps_lossy_findings_unapplied(run, tmp_path):
    rows = [{"messages": [{"role": "human", "content": "q"}, {"role": "ai", "content": "same"}]}] * 2
    prep = run(write_jsonl(tmp_path / "c.jsonl", rows), decide=accept_lossless)
    assert only(prep, "unrecognized_role").applied is True
    assert only(prep, "exact_duplicates").applied is False
    assert len(prep.train) == 2 and not prep.blocking


# --- the quality checks ---------------------------------------------------------------------------------

def quality_rows():
    rng = random.Random(0)
    rows = [chat(sentence(rng), sentence(rng, 8, 14), source="whatsapp" if i < 50 else "telegram")
            for i in range(60)]
    rows.append(dict(rows[0]))                                                     # 61: exact duplicate
    near = json.loads(json.dumps(rows[1]))
    near["messages"][1]["content"] += "!"
    rows.append(near)                                                              # 62: near duplicate
    rows.append(chat("tell me everything", "blah " * 2100, source="whatsapp"))     # 63: long
    rows += [chat(sentence(rng), "k", source="whatsapp") for _ in range(2)]        # 64-65: short
    rows += [chat(sentence(rng), "<Media omitted>", source="whatsapp") for _ in range(2)]   # 66-67
    rows += [chat(sentence(rng), "haha yes", source="whatsapp") for _ in range(7)]          # 68-74: stock
    return rows


def test_quality_checks_and_fixes(run, tmp_path):
    prep = run(write_jsonl(tmp_path / "q.jsonl", quality_rows()))
    assert only(prep, "example_count").severity == "warning"
    assert only(prep, "exact_duplicates").rows == [61]
    assert only(prep, "near_duplicates").rows == [62]
    assert only(prep, "long_examples").rows == [63]
    assert only(prep, "short_replies").rows == [64, 65]
    boiler = only(prep, "boilerplate_replies")
    assert boiler.rows == [66, 67, 72, 73, 74] and "'haha yes' x7" in boiler.message
    balance = only(prep, "balance")
    assert balance.severity == "warning" and "'whatsapp'" in balance.message and balance.applied
    kept = prep.train + prep.valid
    sources = [e.meta["source"] for e in kept]
    assert (sources.count("whatsapp"), sources.count("telegram")) == (15, 10)       # 60%, the limit
    assert all(f.applied for f in prep.findings if f.fix)


def test_balance_fix_declined_keeps_everything(run, tmp_path):
    prep = run(write_jsonl(tmp_path / "q.jsonl", quality_rows()[:60]), decide=accept_lossless)
    assert only(prep, "balance").applied is False and len(prep.train) + len(prep.valid) == 60


def test_uppercase(run, tmp_path):
    rows = [chat("hello there", "I AM SHOUTING AT YOU"), chat("and now?", "STILL SHOUTING")]
    prep = run(write_jsonl(tmp_path / "u.jsonl", rows))
    finding = only(prep, "uppercase")
    assert finding.data["role"] == "assistant" and finding.applied
    assert [e.reply() for e in prep.train] == ["i am shouting at you", "still shouting"]


def test_token_counts_match_the_chat_template(counter):
    from selfclone.dataset.chat import Example

    examples = [Example.chat(("user", "hi there"), ("assistant", "hello, you!")),
                Example.chat(("user", "long day?"), ("assistant", "aye, right then"), ("user", "tea?"),
                             ("assistant", "stewed, milk after"), system="You are Maggie."),
                Example.chat(("user", "Ünïcödé 🐝 test"), ("assistant", "naïve café — over"))]
    totals, trained = counter.count(examples)
    tok = counter.tokenizer
    for example, total, n_trained in zip(examples, totals, trained):
        text = tok.apply_chat_template(example.to_dict()["messages"], tokenize=False)
        assert total == len(tok(text, add_special_tokens=False)["input_ids"])
        assert n_trained == sum(len(tok(t.content, add_special_tokens=False)["input_ids"])
                                for t in example.messages if t.role == "assistant")


def test_percentiles_are_the_real_ones():
    p = percentiles(list(range(1, 101)))
    assert (p["p5"], p["p50"], p["p95"]) == pytest.approx((5.95, 50.5, 95.05))
    assert (p["min"], p["max"]) == (1, 100)


def test_over_context(run, tmp_path):
    rows = [chat("hi", "short"), chat("hi", " ".join(["word"] * 80))]
    prep = run(write_jsonl(tmp_path / "ctx.jsonl", rows), max_length=60)
    finding = only(prep, "over_context")
    assert finding.rows == [2] and "60 tokens" in finding.message
    assert [e.reply() for e in prep.train] == ["short"]
    assert prep.stats["tokens"]["max"] < 60


def test_split_is_deterministic_with_a_seed(run, tmp_path):
    rng = random.Random(1)
    path = write_jsonl(tmp_path / "s.jsonl", [chat(f"{i} {sentence(rng)}", f"{i} {sentence(rng)}") for i in range(200)])

    def valid_lines(seed):
        prep = run(path, seed=seed)
        assert len(prep.valid) == 20 and len(prep.train) == 180
        return [e.meta["line"] for e in prep.valid]
    assert valid_lines(7) == valid_lines(7)
    assert valid_lines(7) != valid_lines(8)
    prep = run(path, seed=7)
    train, valid = write_prepared(prep, tmp_path / "s")
    assert len(read_examples(valid)) == 20 and len(read_examples(train)) == 180


def test_training_estimate_reads_bench_train(run, tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [chat("hi", "hello"), chat("bye", "see you")])
    rough = only(run(path), "training_time")
    assert "rough default" in rough.message and "selfclone bench train" in rough.message
    assert rough.data["epochs"] == SFTSettings().epochs == 3        # the run `selfclone train` will do (issue 14)
    bench = tmp_path / "bench-train.json"
    bench.write_text(json.dumps({"tokens_per_s": 50.0, "machine": "Test CPU, 2 cores",
                                 "measured_at": "2026-11-21T10:00:00"}))
    prep = run(path, throughput_file=bench, epochs=3)
    measured = only(prep, "training_time")
    tokens = sum(e.meta["tokens"] for e in prep.train)
    assert measured.data["seconds"] == pytest.approx(tokens * 3 / 50.0)
    assert "Test CPU, 2 cores" in measured.message and measured.data["measured"]


def test_xlsx_and_parquet_through_prepare(run, tmp_path):
    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq

    book = openpyxl.Workbook()
    book.active.append(["prompt", "completion"])
    book.active.append(["hi", "hello"])
    book.active.append(["n?", 300])
    book.create_sheet("other").append(["prompt", "completion"])
    book.save(tmp_path / "x.xlsx")
    prep = run(tmp_path / "x.xlsx")
    assert pairs(prep.train) == [("hi", "hello"), ("n?", "300")]
    assert any("reading only the first" in n for n in prep.notices)

    records = [chat(f"q{i}", f"answer number {i}") for i in range(5)]
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "c.parquet")
    prep = run(tmp_path / "c.parquet")
    assert [e.to_dict() for e in prep.train] == [{"messages": r["messages"]} for r in records]


def test_bad_file_raises_before_anything_is_written(run, tmp_path):
    path = tmp_path / "data.csv"
    path.write_text('prompt,completion\nhi,"broken\n')
    with pytest.raises(DataError) as exc:
        run(path)
    assert exc.value.line == 2 and "broken quote" in exc.value.message
    assert not list(tmp_path.glob("*prepared*"))


# --- near-duplicates --------------------------------------------------------------------------------------

def test_lsh_agrees_with_the_exact_pairwise_check():
    rng = random.Random(3)
    texts = [sentence(rng, 8, 20) for _ in range(300)]
    texts += [t + "!" for t in texts[:20]] + [t.upper() for t in texts[20:25]]
    exact = neardup.pairwise_groups(texts)
    assert neardup.near_duplicate_groups(texts) == exact
    assert [[i, 300 + i] for i in range(20)] == exact[:20]


def test_same_reply_to_prompts_one_word_apart_is_a_near_duplicate(run, tmp_path):
    # issue 14: short exchanges share too few 5-grams for the character threshold
    path = write_jsonl(tmp_path / "t.jsonl", [chat("how are you?", "fine, thanks"),
                                              chat("how are you today?", "Fine,  thanks"),
                                              chat("how old are you?", "seventy-one"),
                                              chat("where do you live?", "fine, thanks")])
    found = only(run(path), "near_duplicates")
    assert found.data["groups"] == [[1, 2]] and "differs by one word" in found.message
