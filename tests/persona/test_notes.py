"""Notes into the real index (semantic-text-splitter, MiniLM, sqlite-vec, FTS5) and passages out into the prompt."""
from __future__ import annotations

import json

import pytest

from selfclone.cli import main
from selfclone.embedding import embed
from selfclone.errors import DataError
from selfclone.persona import notes as notes_mod
from selfclone.persona.index import NotesIndex
from selfclone.persona.retrieval import add_notes, index_messages, notes_path, workspace_retriever

BEES = "# Bees\n\nMy first hive came from my uncle Alf in 1994, a swarm caught in a bucket.\n\n" \
       "## Tea\n\nI take my tea stewed for five minutes, milk after.\n"
KETTLE = "<html><head><style>p{}</style></head><body><p>The blue kettle is called Barnacle.</p>" \
         "<script>var x = 'not this';</script></body></html>"


@pytest.fixture
def notes_dir(tmp_path):
    folder = tmp_path / "notes"
    (folder / "kitchen").mkdir(parents=True)
    (folder / "bees.md").write_text(BEES)
    (folder / "kitchen" / "kettle.html").write_text(KETTLE)
    (folder / "boat.txt").write_text("The dinghy is painted green and moored at Skerry Point.")
    return folder


def test_notes_are_indexed_found_and_removed(ws, notes_dir):
    with NotesIndex(notes_path(ws.root)) as index:
        report = add_notes(index, [notes_dir])
        assert len(report.added) == 3 and report.passages >= 4
        kettle = index.search("what is your kettle called?", 1, embed)[0]
        assert "Barnacle" in kettle.text and "not this" not in kettle.text and kettle.origin.endswith("kettle.html")
        assert "uncle Alf" in index.search("where did your first hive come from?", 1, embed)[0].text
        assert "Skerry" in index.search("dinghy mooring", 1, embed, hybrid=False)[0].text
        again = add_notes(index, [notes_dir])
        assert again.added == [] and len(again.skipped) == 3
        removed = index.remove([str((notes_dir / "kitchen" / "kettle.html").resolve())])
        assert removed == 1
        counts = [index.db.execute(f"select count(*) from {t}").fetchone()[0]
                  for t in ("passages", "passage_vectors", "passage_words")]
        assert counts == [report.passages - 1] * 3
        assert all("Barnacle" not in hit.text for hit in index.search("kettle Barnacle", 5, embed))


def test_binary_and_non_utf8_files_are_named(ws, tmp_path):
    binary, latin = tmp_path / "photo.txt", tmp_path / "old.md"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    latin.write_bytes("caf\u00e9 au lait".encode("latin-1"))
    with NotesIndex(notes_path(ws.root)) as index:
        with pytest.raises(DataError, match="photo.txt: is a binary file"):
            add_notes(index, [binary])
        with pytest.raises(DataError, match=r"old.md: is not UTF-8 text \(byte 3"):
            add_notes(index, [latin])
        with pytest.raises(DataError, match="unknown notes format '.pdf'"):
            (tmp_path / "x.pdf").write_text("x")
            add_notes(index, [tmp_path / "x.pdf"])
        assert index.documents() == []


def test_an_interrupted_add_keeps_no_half_document_and_resumes(ws, notes_dir):
    calls = []

    def embed_then_interrupt(texts):
        calls.append(len(texts))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return embed(texts)

    with NotesIndex(notes_path(ws.root)) as index:
        files = notes_mod.note_files([notes_dir])
        with pytest.raises(KeyboardInterrupt):
            for path in files:
                index.add(str(path.resolve()), notes_mod.kind_of(path), "x", 0, notes_mod.passages(path),
                          embed_then_interrupt)
        assert [d.origin for d in index.documents()] == [str(files[0].resolve())]
        assert index.passage_count() == index.documents()[0].passages
        report = add_notes(index, [notes_dir])
        assert len(report.added) == 3     # the finished one had a stand-in digest; everything is indexed once
        assert index.passage_count() == sum(d.passages for d in index.documents())


def test_a_large_file_streams_in_blocks_with_progress(tmp_path, monkeypatch):
    monkeypatch.setattr(notes_mod, "BLOCK", 4096)
    big = tmp_path / "diary.txt"
    paragraphs = [f"Day {i}: the sea was calm and the bees were out on the heather by the wall." for i in range(600)]
    big.write_text("\n\n".join(paragraphs) + "\n")
    seen = []
    out = list(notes_mod.passages(big, progress=seen.append))
    assert sum(seen) == big.stat().st_size and len(seen) > 5
    joined = " ".join(out)
    assert all(f"Day {i}:" in joined for i in range(600))
    assert all(len(p) <= notes_mod.CAPACITY[1] for p in out)


def test_own_messages_are_indexed_scrubbed(ws):
    with ws.store() as store:
        with store.db:
            for i, (sender, me, text) in enumerate([
                    ("Ana Souza", 0, "are you coming Saturday?"),
                    ("Maggie", 1, "yes, tell Ana I'm bringing honey; mail me at maggie@example.com"),
                    ("Maggie", 1, "the hives are wrapped for winter")]):
                store.db.execute("insert into messages(source, origin, chat, sender, is_me, text, fingerprint) "
                                 "values ('whatsapp', 'chat.txt', 'c1', ?, ?, ?, ?)", (sender, me, text, str(i)))
        with NotesIndex(notes_path(ws.root)) as index:
            report = index_messages(index, store, ws.config.collect)
            assert report.passages == 2
            texts = [r[0] for r in index.db.execute("select text from passages")]
            assert not any("Ana" in t or "maggie@example.com" in t for t in texts)
            assert any("<EMAIL>" in t for t in texts)
            assert index_messages(index, store, ws.config.collect).added == []


def test_ask_puts_passages_in_the_system_frame(ws, notes_dir, capsys, monkeypatch):
    monkeypatch.chdir(ws.root)
    assert workspace_retriever(ws.root, ws.config.notes) is None        # no notes yet: retrieval is off
    assert main(["notes", "add", str(notes_dir), "--no-messages"]) == 0
    capsys.readouterr()
    assert main(["ask", "echo", "what is the kettle called?", "--json", "--backend", "echo",
                 "--context", "You are Maggie.", "--retrieve", "2"]) == 0
    system = json.loads(capsys.readouterr().out)["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You are Maggie.\n\nFacts about you (answer from these):\n- ")
    assert "Barnacle" in system["content"] and system["content"].count("\n- ") == 2
    assert main(["ask", "echo", "what is the kettle called?", "--json", "--backend", "echo",
                 "--context", "You are Maggie.", "--no-retrieve"]) == 0
    assert json.loads(capsys.readouterr().out)["messages"][0]["content"] == "You are Maggie."
    assert main(["notes", "remove", str(notes_dir)]) == 0
    assert workspace_retriever(ws.root, ws.config.notes) is None


def test_augmented_training_examples_carry_the_talk_time_frame(ws, notes_dir, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(ws.root)
    assert main(["notes", "add", str(notes_dir), "--no-messages"]) == 0
    data, out = tmp_path / "train.jsonl", tmp_path / "aug.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "system", "content": "You are Maggie."},
                                             {"role": "user", "content": "what is the kettle called?"},
                                             {"role": "assistant", "content": "Barnacle, love."}]}) + "\n")
    assert main(["notes", "augment", str(data), str(out), "--retrieve", "1", "--distractors", "1"]) == 0
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    system = row["messages"][0]["content"]
    assert system.startswith("You are Maggie.\n\nFacts about you (answer from these):\n- ") and system.count("\n- ") == 2
    assert "Barnacle" in system and row["messages"][1:] == json.loads(data.read_text())["messages"][1:]
    capsys.readouterr()
    assert main(["ask", "echo", "what is the kettle called?", "--json", "--backend", "echo",
                 "--context", "You are Maggie.", "--retrieve", "1"]) == 0
    talk = json.loads(capsys.readouterr().out)["messages"][0]["content"]
    kettle_line = [line for line in talk.splitlines() if "Barnacle" in line][0]
    assert kettle_line in system.splitlines() and talk.split("\n- ")[0] == system.split("\n- ")[0]


def test_augmenting_leaves_out_the_passage_that_is_the_reply_itself(ws, tmp_path, capsys, monkeypatch):
    """Own messages are indexed: an example whose reply is a passage must not see it in its frame (it would learn to
    copy its answer), and still gets the distractors."""
    monkeypatch.chdir(ws.root)
    reply = "The blue kettle is called Barnacle."
    for name, text in (("mine", reply), ("boat", "The dinghy is moored at Skerry Point."), ("tea", "Tea is stewed.")):
        (tmp_path / f"{name}.txt").write_text(text + "\n")
    assert main(["notes", "add", *(str(tmp_path / f"{n}.txt") for n in ("mine", "boat", "tea")), "--no-messages"]) == 0
    data, out = tmp_path / "train.jsonl", tmp_path / "aug.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "what is the blue kettle called?"},
                                             {"role": "assistant", "content": reply}]}) + "\n")
    assert main(["notes", "augment", str(data), str(out), "--retrieve", "1", "--distractors", "2"]) == 0
    system = json.loads(out.read_text().splitlines()[0])["messages"][0]["content"]
    assert "Barnacle" not in system and system.count("\n- ") == 2 and "Skerry" in system
