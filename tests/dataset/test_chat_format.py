"""The canonical chat format and the legacy conversions: exact outputs, and errors that name file and line."""
import json

import pytest

from selfclone.dataset.chat import Example, Turn, read_examples, write_examples
from selfclone.errors import DataError


def write(tmp_path, lines, name="data.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(l if isinstance(l, str) else json.dumps(l) for l in lines) + "\n", encoding="utf-8")
    return path


def test_chat_rows_round_trip_with_weights(tmp_path):
    row = {"messages": [{"role": "system", "content": "You are Maggie."}, {"role": "user", "content": "hi"},
                        {"role": "assistant", "content": "aye", "weight": 0}, {"role": "user", "content": "tea?"},
                        {"role": "assistant", "content": "stewed.", "weight": 1}]}
    [ex] = read_examples(write(tmp_path, [row]))
    assert ex.system == "You are Maggie."
    assert [t.trained for t in ex.messages] == [False, False, False, False, True]
    out = tmp_path / "out.jsonl"
    assert write_examples(out, [ex]) == 1
    assert json.loads(out.read_text()) == row


@pytest.mark.parametrize("record, expected", [
    ({"prompt": "What's up?", "completion": "not much"},
     [("user", "What's up?"), ("assistant", "not much")]),
    ({"prompt": "Q: What's your favourite tide? ->", "completion": " the spring tide###"},
     [("user", "What's your favourite tide?"), ("assistant", "the spring tide")]),
    ({"prompt": "Context: at the doctor's office\n\n###\n\nHuman: So, what brings you in?\nAI:",
      "completion": " a cough that won't quit.\n"},
     [("system", "at the doctor's office"), ("user", "So, what brings you in?"),
      ("assistant", "a cough that won't quit.")]),
    ({"prompt": "Context: on the ferry\n\n###\n\nHuman: cold one?\nAI: bitter.\nHuman: coffee?\nAI:",
      "completion": " tea, always. END"},
     [("system", "on the ferry"), ("user", "cold one?"), ("assistant", "bitter."), ("user", "coffee?"),
      ("assistant", "tea, always.")]),
])
def test_legacy_formats_convert_exactly(tmp_path, record, expected):
    [ex] = read_examples(write(tmp_path, [record]))
    assert [(t.role, t.content) for t in ex.messages] == expected


@pytest.mark.parametrize("lines, message, line", [
    (['{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}', '{"messages": ['],
     "not valid JSON", 2),
    ([{"messages": [{"role": "user", "content": "hi"}]}], "no assistant turn", 1),
    ([{"messages": [{"role": "human", "content": "hi"}, {"role": "assistant", "content": "x"}]}], "messages[0].role", 1),
    ([{"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "x"}]}], "content is a number", 1),
    ([{"prompt": "hi", "completion": "###"}], "empty completion", 1),
    ([{"text": "hi"}], "unknown row shape", 1),
])
def test_bad_rows_name_file_and_line(tmp_path, lines, message, line):
    path = write(tmp_path, lines)
    with pytest.raises(DataError) as err:
        read_examples(path)
    assert message in str(err.value)
    assert f"{path}, line {line}" in str(err.value)
    assert err.value.line == line


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n")
    with pytest.raises(DataError, match="no examples"):
        read_examples(path)


def test_prompt_and_reply_split_at_last_assistant_turn():
    ex = Example((Turn("system", "s"), Turn("user", "a"), Turn("assistant", "b"), Turn("user", "c"),
                  Turn("assistant", "d")))
    assert ex.prompt() == [{"role": "system", "content": "s"}, {"role": "user", "content": "a"},
                           {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]
    assert ex.reply() == "d"


def test_split_is_deterministic_and_auto_validation_needs_50():
    from selfclone.dataset.split import auto_validation, split

    items = list(range(200))
    assert split(items, 0.1, 7) == split(items, 0.1, 7)
    train, valid = split(items, 0.1, 7)
    assert len(valid) == 20 and sorted(train + valid) == items
    assert split(items, 0.1, 8)[1] != valid
    assert auto_validation(list(range(49))) == (list(range(49)), [])
    assert len(auto_validation(list(range(50)))[1]) == 5
