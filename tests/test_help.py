"""The guides travel with the package: every `selfclone help TOPIC` a hint names exists, and init says what next."""
import re
from pathlib import Path

from selfclone.cli import main
import selfclone
from selfclone.help_commands import topics

SRC = Path(selfclone.__file__).parent


def test_every_help_topic_named_in_a_hint_exists(capsys):
    named = set()
    for path in SRC.rglob("*.py"):
        named |= set(re.findall(r"selfclone help ([a-z]+)", path.read_text(encoding="utf-8")))
    assert {"data", "importing", "prepare", "preferences", "evaluate"} <= named
    assert named <= set(topics())
    for topic in sorted(named):
        assert main(["help", topic]) == 0
    assert "Data format" in capsys.readouterr().out


def test_no_hint_points_into_the_source_tree():
    for path in SRC.rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "docs/" in line and ('"' in line.split("docs/")[0][-40:]) and not line.lstrip().startswith("#"):
                assert "DataError" not in line and "hint" not in line, f"{path}: {line}"


def test_unknown_topic_lists_the_topics(capsys):
    assert main(["help", "nope"]) == 2
    assert "topics: architecture" in capsys.readouterr().err


def test_init_says_cd_import_export_prepare_train(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["init", "ws", "--person", "Ana Lima"]) == 0
    out = capsys.readouterr().out
    for step in ("cd ws", 'selfclone import auto EXPORTS... --me "Ana Lima"', "selfclone data export --out",
                 "selfclone prepare", "selfclone train", "selfclone help"):
        assert step in out
