"""Workspace creation and lookup, config validation, store migrations, atomic writes."""
import sqlite3

import pytest

from selfclone import config
from selfclone.errors import ConfigError, WorkspaceError
from selfclone.fileio import atomic_open
from selfclone.store import MIGRATIONS, Store
from selfclone.workspace import Workspace


def test_init_creates_layout_and_is_found_from_a_subfolder(tmp_path):
    ws = Workspace.init(tmp_path / "maggie", person="Maggie")
    assert (ws.root / "selfclone.toml").exists() and ws.data_dir.is_dir() and ws.runs_dir.is_dir()
    assert ws.store_path.exists()
    sub = ws.data_dir / "deep"
    sub.mkdir()
    found = Workspace.find(sub)
    assert found.root.resolve() == ws.root.resolve() and found.config.person == "Maggie"
    with pytest.raises(WorkspaceError, match="already a selfclone workspace"):
        Workspace.init(ws.root)


def test_find_without_workspace_says_what_to_do(tmp_path):
    with pytest.raises(WorkspaceError) as err:
        Workspace.find(tmp_path)
    assert "selfclone init" in err.value.hint


def test_config_overrides_and_validation(tmp_path):
    ws = Workspace.init(tmp_path / "w")
    cfg = config.load(ws.config_path, {"generation.temperature": 0.2, "model": "x"})
    assert cfg.generation.temperature == 0.2 and cfg.model == "x"
    with pytest.raises(ConfigError, match="temperature"):
        config.load(ws.config_path, {"generation.temperature": 9})
    with pytest.raises(ConfigError, match="unknown setting"):
        config.load(ws.config_path, {"generation.tempreature": 1})
    assert config.load(ws.config_path, {"notes.drill": 0}).notes.drill == 0 and cfg.notes.drill == 200
    with pytest.raises(ConfigError, match="notes.drill must be a whole number"):
        config.load(ws.config_path, {"notes.drill": -5})
    (tmp_path / "bad.toml").write_text("name = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(tmp_path / "bad.toml")


def test_migrations_apply_once(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as store:
        assert store.migrate() == []
        names = {r[0] for r in store.db.execute("select name from _migrations")}
    assert names == {name for name, _ in MIGRATIONS}
    tables = {r[0] for r in sqlite3.connect(path).execute("select name from sqlite_master where type='table'")}
    assert {"messages", "examples", "interview_answers", "rankings", "runs", "conversations"} <= tables


def test_atomic_open_keeps_the_old_file_when_interrupted(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(path) as fh:
            fh.write("half")
            raise RuntimeError("crash")
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]
