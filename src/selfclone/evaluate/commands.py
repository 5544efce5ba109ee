"""`selfclone eval`, `selfclone turing` and `selfclone probe`."""
from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from .. import models
from ..config import GenerationOptions
from ..backends.registry import DEFAULT as DEFAULT_BACKEND, LOCAL_BACKENDS, open_backend

from ..dataset.chat import read_examples
from ..errors import ConfigError, DataError, SelfcloneError
from ..terminal import console, progress_bar, workspace
from .compare import Entrant
from .display import print_comparison

DEFAULT_BASELINES = "base,persona,fewshot,retrieval"
NO_TRAIN_HINT = "pass --train with the person's training data (the style classifier and few-shot/retrieval need it)"


def _runs_dir(ws) -> Path | None:
    return ws.runs_dir if ws else None


def _options(ws, max_tokens: int, seed: int) -> GenerationOptions:
    defaults = ws.config.generation if ws else GenerationOptions()
    return defaults.with_(max_tokens=max_tokens, seed=seed)


def _check_models(names: list[str], backend: str, runs_dir: Path | None) -> dict[str, models.ModelRef]:
    """Resolve every local model name before loading any, so a typo fails in a second, not after minutes."""
    return {name: models.resolve(name, runs_dir) for name in names} if backend in LOCAL_BACKENDS else {}


def _baseline_names(text: str) -> list[str]:
    from .baselines import MODES

    names = [] if text.strip().lower() in ("", "none") else [b.strip() for b in text.split(",") if b.strip()]
    unknown = [b for b in names if b not in MODES]
    if unknown:
        raise ConfigError(f"unknown baseline(s) {', '.join(unknown)}", f"choose from: {', '.join(MODES)}, or none")
    return names


def eval_cmd(
    model_names: list[str] = typer.Argument(None, metavar="MODEL...", help="clones or models to evaluate"),
    heldout: Path = typer.Option(..., "--heldout", help="the person's real held-out conversations (chat JSONL)"),
    train: Path = typer.Option(None, "--train", help="the person's training data (default: the first clone's)"),
    as_json: bool = typer.Option(False, "--json", help="print the metrics as JSON"),
    report: Path = typer.Option(None, "--report", help="write a self-contained HTML report here"),
    baselines: str = typer.Option(None, help="no-training modes of the base model to add, comma-separated from "
                                  "base, persona, fewshot, retrieval, or none (default: all; persona only when "
                                  "the person has a description)"),
    base: str = typer.Option(None, help="base model of the baselines (default: the first clone's base model, "
                             "else the workspace's model)"),
    persona: str = typer.Option(None, help="persona prompt (default: the workspace's description of the person)"),
    k: int = typer.Option(4, help="training examples in the few-shot and retrieval prompts"),
    limit: int = typer.Option(None, help="evaluate on the first N held-out examples only"),
    max_tokens: int = typer.Option(48, help="longest generated reply, in tokens"),
    batch_size: int = typer.Option(8, help="prompts generated together"),
    seed: int = typer.Option(0, help="sampling seed: the same seed gives the same replies"),
    backend: str = typer.Option("transformers", help="backend that runs MODEL; transformers by default, as the "
                                "baselines, so every entrant's replies come from the same sampler in batches"),
    samples: int = typer.Option(12, help="side-by-side samples in the report"),
    reference: int = typer.Option(48, help="training prompts the base model answers as the style classifier's "
                                  "generic-assistant reference (0: the shipped reference set only)"),
    rounds: bool = typer.Option(True, help="put the previous round of a `train --continue` clone beside it"),
    relationships: bool = typer.Option(True, help="held-out loss per relationship with and without who in the frame "
                                       "(when held-out examples carry it: `selfclone contacts examples`)"),
    notes_loss: bool = typer.Option(False, "--notes-loss", help="also each MODEL with the workspace's notes retrieved "
                                    "into the frame (MODEL+notes: held-out loss, attribution, ...), against without"),
):
    """Compare clones, the base model and prompting baselines on the person's real held-out replies."""
    from .baselines import ModeBackend, make_mode
    from .compare import check_heldout, compare

    ws = workspace(required=False)
    runs_dir = _runs_dir(ws)
    model_names = list(model_names or [])
    description = persona if persona is not None else (ws.config.description if ws else "")
    modes = _baseline_names(baselines if baselines is not None else DEFAULT_BASELINES)
    if baselines is None and not description.strip():
        modes.remove("persona")          # asked for by default only: no description, no persona prompt
    if not model_names and not modes:
        raise SelfcloneError("nothing to evaluate", "name one or more MODELs, or keep some --baselines")
    refs = _check_models(model_names, backend, runs_dir)
    parents = previous_rounds(refs) if rounds else {}
    for clone, parent in parents.items():
        if parent not in model_names:
            model_names.insert(model_names.index(clone) + 1, parent)
    refs = _check_models(model_names, backend, runs_dir)
    heldout_examples = read_examples(heldout)[:limit] if limit else read_examples(heldout)
    check_heldout(heldout_examples, heldout)
    clones = [r for r in refs.values() if r.kind == "clone"]
    if train is None and clones:
        candidate = Path(clones[0].run_dir) / "data" / "train.jsonl"
        train = candidate if candidate.exists() else None
    train_examples = read_examples(train) if train else []
    if baselines is None and not train_examples:
        modes = [m for m in modes if m not in ("fewshot", "retrieval")]     # by default only with training data
    if not train_examples and any(m in ("fewshot", "retrieval") for m in modes):
        raise DataError("the few-shot and retrieval baselines need the person's training examples", NO_TRAIN_HINT)
    base_name = base or (clones[0].base if clones else (ws.config.model if ws else "smollm2-135m"))
    if modes or (reference and train_examples):
        models.resolve(base_name, runs_dir)
    prompting = {m: make_mode(m, description=description, train=train_examples, k=k, seed=seed) for m in modes}

    entrants, loaded, base_backend = [], {}, None
    with console.status("loading models ...") if not as_json else contextlib.nullcontext():
        for name in model_names:
            loaded[name] = open_backend(name, backend, workspace_runs=runs_dir)
            entrants.append(Entrant(name, loaded[name]))
        if modes or (reference and train_examples):
            base_backend = loaded.get(base_name) if backend == "transformers" else None
            base_backend = base_backend or open_backend(base_name, "transformers", workspace_runs=runs_dir)
            for m in modes:
                if m == "base" and base_name in model_names:
                    continue
                entrants.append(Entrant(base_name if m == "base" else f"{base_name}+{m}",
                                        base_backend if prompting[m] is None else ModeBackend(base_backend, prompting[m])))

    if notes_loss:
        from ..persona.retrieval import workspace_retriever
        from .baselines import Notes

        retriever = workspace_retriever(ws.root, ws.config.notes) if ws else None
        if retriever is None:
            raise DataError("--notes-loss needs notes in the workspace", "add some with `selfclone notes add PATH`")
        entrants += [Entrant(f"{name}+notes", ModeBackend(loaded[name], Notes(retriever))) for name in model_names]
    options = _options(ws, max_tokens, seed)
    if as_json:
        result = compare(entrants, heldout_examples, train_examples, options, batch_size=batch_size,
                         reference=base_backend, reference_prompts=reference)
    else:
        with progress_bar() as progress:
            task = progress.add_task("evaluating", total=len(heldout_examples), status="")

            def on_progress(stage, done, total):
                progress.update(task, description=stage, completed=done, total=total)

            result = compare(entrants, heldout_examples, train_examples, options, batch_size=batch_size,
                             reference=base_backend, reference_prompts=reference, on_progress=on_progress)
    extra = framing_losses(loaded, heldout_examples, relationships, notes_loss, ws)
    extra["rounds"] = parents
    if report is not None:
        from .report import write_report

        title = f"{ws.config.person if ws else 'selfclone'}: {', '.join(r.name for r in result.results)}"
        write_report(report, result, title, samples)
    if as_json:
        typer.echo(json.dumps(result.to_dict() | extra, indent=2, ensure_ascii=False))
        return
    print_comparison(result)
    print_framing(extra)
    if report is not None:
        console.print(f"report: {report}")


def previous_rounds(refs: dict[str, models.ModelRef]) -> dict[str, str]:
    """{clone: the clone it continued} for every clone trained with `train --continue` (its run.json says)."""
    return {name: ref.info["continued_from"] for name, ref in refs.items()
            if ref.kind == "clone" and ref.info.get("continued_from")}


def framing_losses(loaded: dict, heldout, relationships: bool, notes: bool, ws) -> dict:
    """Per local model: held-out loss per relationship with/without who, and with/without retrieved notes."""
    from ..persona.retrieval import workspace_retriever
    from .generate import local_model, unwrap
    from .heldout import heldout_loss, notes_transform, relationship_losses

    retriever = workspace_retriever(ws.root, ws.config.notes) if notes and ws else None
    if notes and retriever is None:
        raise DataError("--notes-loss needs notes in the workspace", "add some with `selfclone notes add PATH`")
    out: dict = {"relationships": {}, "notes": {}}
    for name, backend in loaded.items():
        pair = local_model(unwrap(backend)[0])
        if pair is None:
            continue
        if relationships:
            rows = relationship_losses(*pair, heldout)
            if rows:
                out["relationships"][name] = rows
        if retriever is not None:
            out["notes"][name] = {"loss_without": heldout_loss(*pair, heldout)["loss"],
                                  "loss_with": heldout_loss(*pair, heldout, notes_transform(retriever))["loss"],
                                  "passages": retriever.k}
    return out


def print_framing(extra: dict) -> None:
    for clone, parent in extra["rounds"].items():
        console.print(f"[bold]{escape(clone)}[/] continues [bold]{escape(parent)}[/]: both rounds are above, side by side")
    if extra["relationships"]:
        table = Table(title="held-out loss per relationship (who in the frame)")
        for col in ("model", "relationship", "examples", "with who ↓", "without", "gain"):
            table.add_column(col)
        for name, rows in extra["relationships"].items():
            for r in rows:
                table.add_row(name, r["relationship"], str(r["examples"]), f"{r['loss_with']:.3f}",
                              f"{r['loss_without']:.3f}", f"{r['loss_without'] - r['loss_with']:+.3f}")
        console.print(table)
    for name, r in extra["notes"].items():
        console.print(f"{escape(name)}: held-out loss {r['loss_with']:.3f} with {r['passages']} retrieved passages, "
                      f"{r['loss_without']:.3f} without")


# --- turing --------------------------------------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "model"


def _ask(prompt: str, allowed: set[str]) -> str:
    """Read one answer from the terminal; end of input counts as q."""
    while True:
        try:
            answer = console.input(prompt, markup=False).strip().lower()
        except EOFError:
            return "q"
        if answer in allowed:
            return answer
        console.print(f"[yellow]type one of: {', '.join(sorted(allowed))}[/]")


def turing_cmd(
    model: str = typer.Option(None, "--model", help="the clone (or any model) the judge tries to tell apart"),
    heldout: Path = typer.Option(None, "--heldout", help="held-out conversations (default: data/heldout.jsonl)"),
    judge_kind: str = typer.Option("stranger", "--judge-kind", help="stranger or acquaintance (knows the person)"),
    n: int = typer.Option(20, "--n", help="items in the session"),
    session: str = typer.Option(None, "--session", help="session name (default: JUDGE_KIND-MODEL); one per judge"),
    max_tokens: int = typer.Option(48, help="longest clone reply, in tokens"),
    seed: int = typer.Option(0, help="sampling seed for the clone's replies"),
    backend: str = typer.Option(DEFAULT_BACKEND, help="backend that runs MODEL (auto: llamacpp when installed)"),
    summary: bool = typer.Option(False, "--summary", help="print every session's results and exit"),
):
    """A judge who is not the person picks the real reply out of two; 50% means indistinguishable."""
    from .turing import JUDGE_KINDS, TuringGame
    from .turing import summary as turing_summary

    ws = workspace()
    with ws.store() as store:
        if summary:
            return print_turing_summary(turing_summary(store))
        if not model:
            raise SelfcloneError("no model to judge", "pass --model CLONE (or --summary to see results)")
        if judge_kind not in JUDGE_KINDS:
            raise ConfigError(f"--judge-kind must be one of {', '.join(JUDGE_KINDS)}, got {judge_kind!r}")
        heldout = heldout or ws.data_dir / "heldout.jsonl"
        if not Path(heldout).exists():
            raise DataError("held-out file not found", "pass --heldout FILE with the person's real conversations",
                            path=heldout)
        session = session or f"{judge_kind}-{_slug(model)}"
        if backend in LOCAL_BACKENDS:
            models.resolve(model, ws.runs_dir)
        game = TuringGame.open(store, session, model=model, judge_kind=judge_kind, heldout=read_examples(heldout),
                               n=n, heldout_path=str(heldout))
        missing = game.missing_replies()
        if missing:
            with console.status(f"the clone is answering {len(missing)} conversations ..."):
                game.generate(open_backend(model, backend, workspace_runs=ws.runs_dir),
                              _options(ws, max_tokens, seed))
        play_turing(game, ws.config.person, session)


def play_turing(game, person: str, session: str) -> None:
    pending = game.pending()
    total = len(game.items())
    if pending:
        console.print(f"\n[bold]Turing session {session}[/] ({game.meta['judge_kind']} judge): "
                      f"{total - len(pending)} of {total} answered.")
        console.print(f"Hand the keyboard to the judge: someone who is not {person}. Each item shows a conversation "
                      f"and two replies; one is {person}'s real reply, the other the clone's. Type a or b for the "
                      "one you think is real, q to stop (answers are saved; run the same command to resume).\n")
    for number, (key, item) in enumerate(pending, total - len(pending) + 1):
        console.rule(f"item {number} of {total}")
        for m in item["context"]:
            who = person if m["role"] == "assistant" else "them"
            console.print(f"[bold]{escape(who)}:[/] {escape(m['content'])}")
        sides = game.sides(key)
        console.print(f"\n  [cyan]A:[/] {escape(sides['a'])}\n  [cyan]B:[/] {escape(sides['b'])}\n")
        answer = _ask(f"Which reply is {person}'s real one? [a/b/q] ", {"a", "b", "q"})
        if answer == "q":
            console.print("stopped; answers so far are saved.")
            break
        game.answer(key, answer)
    score = game.score()
    console.print(f"\n[bold]judge found the real reply:[/] {score}")
    if score.n:
        console.print(f"the clone passed for {person} in {1 - score.rate:.0%} of the answered items "
                      "(50% judge accuracy = indistinguishable)")


def print_turing_summary(rows: list[dict]) -> None:
    table = Table(title="Turing sessions")
    for col in ("session", "model", "judge", "judge accuracy (95% CI)"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["session"], str(r["model"]), str(r["judge_kind"]), str(r["accuracy"]))
    console.print(table if rows else "[dim]no Turing sessions yet: selfclone turing --model CLONE[/]")


# --- probe ---------------------------------------------------------------------------------------------
def probe_cmd(
    model: str = typer.Argument(None, help="the clone whose picks to compare with yours"),
    record: bool = typer.Option(False, "--record", help="record your own picks (once; resumes)"),
    probes_file: Path = typer.Option(None, "--probes", help="a probe bank TOML (default: the shipped one)"),
    system: str = typer.Option(None, help="system prompt for the clone (default: the workspace's)"),
    backend: str = typer.Option(DEFAULT_BACKEND, help="backend that runs MODEL (auto: llamacpp when installed)"),
):
    """Preference probes: which film, book, food ... the clone picks, against your own recorded picks."""
    from . import probe as probe_mod

    ws = workspace()
    probes = probe_mod.load_probes(probes_file)
    with ws.store() as store:
        if record:
            record_picks(store, probes, probe_mod)
        if model is None:
            if not record:
                raise SelfcloneError("nothing to do", "pass MODEL to compare a clone's picks, or --record yours")
            return
        person = probe_mod.person_picks(store)
        if not any(person.get(p.id) for p in probes):
            raise SelfcloneError("no picks of yours are recorded yet", "run `selfclone probe --record` first")
        if backend in LOCAL_BACKENDS:
            models.resolve(model, ws.runs_dir)
        with console.status(f"{model} is picking ..."):
            chosen = probe_mod.clone_picks(store, open_backend(model, backend, workspace_runs=ws.runs_dir), model,
                                           probes, system if system is not None else (ws.config.system or None))
        result = probe_mod.agreement(person, chosen, probes)
    table = Table(title=f"Preference probes: {ws.config.person} vs {model}")
    for col in ("probe", ws.config.person, "clone", ""):
        table.add_column(col)
    for row in result["rows"]:
        table.add_row(row["question"], row["person"], str(row["clone"]), "✓" if row["person"] == row["clone"] else "")
    console.print(table)
    console.print(f"[bold]agreement:[/] {result['agreement']}   chance: {result['chance']:.0%}")


def record_picks(store, probes, probe_mod) -> None:
    done = probe_mod.person_picks(store)
    todo = [p for p in probes if p.id not in done]
    if todo:
        console.print("Pick what you would really choose: type the number, s to skip, q to stop (saved as you go).")
    for p in todo:
        console.print(f"\n[bold]{escape(p.question)}[/]")
        for i, option in enumerate(p.options, 1):
            console.print(f"  {i}. {escape(option)}")
        answer = _ask("your pick: ", {str(i) for i in range(1, len(p.options) + 1)} | {"s", "q"})
        if answer == "q":
            console.print("stopped; your picks so far are saved.")
            return
        probe_mod.record_pick(store, p, None if answer == "s" else p.options[int(answer) - 1])
    console.print(f"{sum(1 for v in probe_mod.person_picks(store).values() if v)} picks recorded.")


def register_commands(app):
    app.command("eval")(eval_cmd)
    app.command("turing")(turing_cmd)
    app.command("probe")(probe_cmd)
