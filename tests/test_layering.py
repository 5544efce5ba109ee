"""The import rules of docs/ARCHITECTURE.md, checked on the real source: an ast import graph of src/selfclone, direct
imports per module, lazy ones (inside functions) included. Only cli.py may import every area."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import selfclone

SRC = Path(selfclone.__file__).parent

# (from area, to area): why it is forbidden
FORBIDDEN = {
    ("serve", "train"): "serve writes jobs to the store; the worker that trains is started by the command layer",
    **{("dataset", a): "dataset sits below collect, backends and train" for a in ("collect", "backends", "train", "cli")},
    **{("train", a): "train sits below collect, evaluate, backends and the demo" for a in
       ("collect", "evaluate", "backends", "demo", "refine")},
    **{("backends", a): "backends sit below serve and train" for a in ("serve", "train")},
    ("backends", "export"): "backends only load files: a clone's GGUF comes from the clone_gguf hook (export/first_use.py)",
    **{("collect", a): "collect sits below train and evaluate" for a in ("train", "evaluate")},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def area(module: str) -> str:
    """selfclone.train.sft -> train; selfclone.demo_commands -> demo; selfclone.config -> config."""
    parts = module.split(".")
    if len(parts) < 2:
        return "selfclone"
    name = parts[1]
    return name.removesuffix("_commands") if name.endswith("_commands") and name != "workspace_commands" else name


def imports_of(path: Path) -> set[str]:
    """Every selfclone module this file imports, at module level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("selfclone")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("selfclone"):
                continue
            found.add(target)
            for alias in node.names:      # `from . import sft` imports the module selfclone.train.sft
                candidate = f"{target}.{alias.name}"
                if (SRC.parent / Path(*candidate.split("."))).with_suffix(".py").exists() or \
                        (SRC.parent / Path(*candidate.split("."))).is_dir():
                    found.add(candidate)
    return found


def is_command_module(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(n, ast.FunctionDef) and n.name == "register_commands" for n in tree.body)


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}
GRAPH = {name: imports_of(path) for name, path in MODULES.items()}
COMMANDS = {name for name, path in MODULES.items() if is_command_module(path)}


def test_the_graph_is_read():
    assert "selfclone.train.sft" in GRAPH["selfclone.train.methods"]            # a lazy `from . import sft`
    assert "selfclone.dataset.chat" in GRAPH["selfclone.train.methods"]
    assert {"selfclone.train.commands", "selfclone.bench.commands", "selfclone.serve.commands"} <= COMMANDS


@pytest.mark.parametrize("rule", sorted(FORBIDDEN), ids=lambda r: f"{r[0]}->{r[1]}")
def test_forbidden_area_imports(rule):
    source, target = rule
    breaches = [f"{m} imports {t}" for m, targets in GRAPH.items() if area(m) == source
                for t in targets if area(t) == target]
    assert not breaches, f"{FORBIDDEN[rule]}:\n" + "\n".join(breaches)


def test_every_import_names_a_module_that_exists():
    def exists(module):
        path = SRC.parent / Path(*module.split("."))
        return path.with_suffix(".py").exists() or (path / "__init__.py").exists()

    missing = [f"{m} imports {t}" for m, targets in GRAPH.items() for t in targets if not exists(t)]
    assert not missing, "imports of modules that do not exist (moved or renamed?):\n" + "\n".join(missing)


def test_no_library_module_imports_a_command_module():
    breaches = [f"{m} imports {t}" for m, targets in GRAPH.items() if m not in COMMANDS
                and m not in ("selfclone.cli", "selfclone.__main__")      # the entry points
                for t in targets if t in COMMANDS or t == "selfclone.cli"]
    assert not breaches, "library code must not import command modules:\n" + "\n".join(breaches)


def test_only_cli_imports_every_area():
    importers_of_cli = [m for m, targets in GRAPH.items() if "selfclone.cli" in targets and m != "selfclone.__main__"]
    assert not importers_of_cli


def test_benchmarks_live_in_bench():
    outside = []
    for name, path in MODULES.items():
        if area(name) == "bench":
            continue
        if "bench" in path.stem:
            outside.append(str(path))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        outside += [f"{path}: {n.name}" for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("bench")]
    assert not outside, "benchmarks belong in selfclone/bench/:\n" + "\n".join(outside)


def test_no_import_circles_between_areas():
    edges: dict[str, set[str]] = {}
    for m, targets in GRAPH.items():
        if m == "selfclone.cli":
            continue
        for t in targets:
            if area(t) != area(m):
                edges.setdefault(area(m), set()).add(area(t))

    def cycle_from(start):
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in edges.get(node, ()):
                if nxt == start:
                    return path + [start]
                if nxt not in path:
                    stack.append((nxt, path + [nxt]))
        return None

    cycles = {tuple(c) for a in edges if (c := cycle_from(a))}
    assert not cycles, "areas import each other in a circle:\n" + "\n".join(" -> ".join(c) for c in sorted(cycles))
