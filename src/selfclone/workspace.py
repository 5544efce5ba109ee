"""A clone workspace: selfclone.toml, data/, runs/ and the SQLite store, found upward from a folder.

    ws = Workspace.init(Path("maggie"), name="maggie", person="Maggie")
    ws = Workspace.find(Path.cwd())       # raises WorkspaceError when there is none
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import config as config_mod
from .errors import WorkspaceError
from .fileio import write_text

CONFIG_NAME = "selfclone.toml"
STORE_NAME = "selfclone.db"


@dataclass(frozen=True)
class Workspace:
    root: Path
    config: config_mod.WorkspaceConfig

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def store_path(self) -> Path:
        return self.root / STORE_NAME

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    def store(self):
        from .store import Store

        return Store(self.store_path)

    @classmethod
    def init(cls, root: Path, *, name: str | None = None, person: str = "me", model: str | None = None,
             description: str = "", system: str = "") -> "Workspace":
        root = Path(root)
        cfg_path = root / CONFIG_NAME
        if cfg_path.exists():
            raise WorkspaceError(f"{root} is already a selfclone workspace ({cfg_path} exists)",
                                 "use it as it is, or choose another folder")
        cfg = config_mod.WorkspaceConfig(name=name or root.resolve().name, person=person,
                                         model=model or config_mod.DEFAULT_MODEL,
                                         description=description, system=system)
        root.mkdir(parents=True, exist_ok=True)
        (root / "data").mkdir(exist_ok=True)
        (root / "runs").mkdir(exist_ok=True)
        write_text(cfg_path, cfg.to_toml())
        ws = cls(root, cfg)
        ws.store().close()
        return ws

    @classmethod
    def open(cls, root: Path, overrides: dict[str, Any] | None = None) -> "Workspace":
        cfg_path = Path(root) / CONFIG_NAME
        if not cfg_path.exists():
            raise WorkspaceError(f"{root} is not a selfclone workspace (no {CONFIG_NAME})",
                                 "run `selfclone init DIR` first, or cd into a workspace")
        return cls(Path(root), config_mod.load(cfg_path, overrides))

    @classmethod
    def find(cls, start: Path, overrides: dict[str, Any] | None = None) -> "Workspace":
        start = Path(start).resolve()
        for folder in (start, *start.parents):
            if (folder / CONFIG_NAME).exists():
                return cls.open(folder, overrides)
        raise WorkspaceError(f"no selfclone workspace in {start} or any folder above it",
                             "run `selfclone init DIR` and work inside it, or pass explicit paths")

    @classmethod
    def find_optional(cls, start: Path) -> "Workspace | None":
        try:
            return cls.find(start)
        except WorkspaceError:
            return None
