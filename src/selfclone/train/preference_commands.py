"""Commands for preference learning: `selfclone rank`, `selfclone preferences export`, `selfclone refine`, and
`selfclone train --method dpo|reward|rl` (through `run_preference_method`, called by train/commands.py).

    selfclone rank ft:smollm2-135m:maggie:RUN --n 4            # rank candidates; resumes where you stopped
    selfclone preferences export --out prefs.jsonl --format dpo
    selfclone train --method dpo --from ft:smollm2-135m:maggie:RUN
    selfclone train --method reward --from ft:smollm2-135m:maggie:RUN
    selfclone train --method rl --from ft:... --reward runs/RM_RUN
    selfclone refine ft:smollm2-135m:maggie:RUN --rounds 3 --per-round 20

The ranking loop reads plain lines with input(), so it works in any terminal and through a pty.
"""
from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.text import Text

from .. import models
from ..errors import DataError, ModelNotFound, TrainingError
from ..terminal import console, progress_bar, workspace
from .preference import (FORMATS, load_rankings, pairs_from_rankings, pairs_from_store, ranked_models,
                         read_preferences, split_by_prompt, write_preferences)
from .preference_runs import PreferenceSettings, canonical, expand_run_id, start_point
from .rank import RankInputError, RankingLog, RankingSession, parse_response, prompts_from_file, workspace_prompts

preferences_app = typer.Typer(help="Preference pairs from your rankings.", no_args_is_help=True)
HELP_LINE = ("order best first (2 1 4 3) · b2 w4 best and worst · e2 edit candidate 2 into your own words · "
             "s skip · q quit")


class PreferenceEvents:
    """Training progress as a Rich bar; the status shows the method's key figure."""

    KEYS = {"dpo": ("reward_accuracy", "acc"), "reward": ("pair_accuracy", "acc"), "rl": ("reward_mean", "reward")}

    def __init__(self, progress, method: str):
        self.progress, self.method, self.task = progress, method, None

    def on_start(self, total_steps, done_steps, info):
        self.task = self.progress.add_task(f"{self.method} {info['name']}", total=total_steps, completed=done_steps,
                                           status="")

    def on_step(self, row):
        key, label = self.KEYS[self.method]
        figure = f"  {label} {row[key]:.2f}" if row.get(key) is not None else ""
        loss = f"loss {row['train_loss']:.3f}" if row.get("train_loss") is not None else ""
        self.progress.update(self.task, completed=row["step"], status=loss + figure)

    def on_eval(self, row):
        pass


def model_key(name: str, runs_dir: Path | None) -> str:
    """The name rankings are stored under: a clone's name, an embedded name, or a folder's absolute path."""
    name = expand_run_id(name, runs_dir)
    ref = models.resolve(name, runs_dir)
    return ref.name if ref.kind in ("clone", "embedded", "hub") else canonical(name)


# --- train --method dpo|reward|rl ------------------------------------------------------------------------

def _default_start(method: str, from_: str | None, model: str | None, ranked: str | None, ws) -> str:
    if from_:
        return from_
    if method == "reward" and model:
        return model
    if ranked:
        try:
            models.resolve(ranked, ws.runs_dir if ws else None)
        except ModelNotFound as exc:
            raise TrainingError(f"the rankings were made with '{ranked}', which no longer exists ({exc.message})",
                                "pass --from MODEL to train another model on these preferences") from None
        return ranked
    if method == "reward" and ws:
        return ws.config.model
    raise TrainingError(f"--method {method} needs the model to start from", "pass --from CLONE_OR_RUN")


def _pairs(preferences: Path | None, from_: str | None, ws, runs_dir: Path) -> tuple[list, str | None, dict]:
    """(pairs, the model the rankings were made with, info for run.json) from a file or the workspace store."""
    if preferences is not None:
        return read_preferences(preferences), None, {"preferences_file": str(preferences)}
    if ws is None:
        raise DataError("no --preferences file and no workspace to read rankings from",
                        "pass --preferences FILE, or run inside a workspace after `selfclone rank`")
    with ws.store() as store:
        ranked = ranked_models(store)
        if not ranked:
            raise DataError("no rankings in this workspace", "rank some candidates first: `selfclone rank MODEL`")
        own = model_key(from_, runs_dir) if from_ else None
        source = own if own in ranked else (None if from_ else ranked[0])
        pairs = pairs_from_store(store, source)
    return pairs, (source or ranked[0]), {"rankings_of": source or "all models"}


def run_preference_method(method: str, *, data=None, validation=None, preferences=None, from_=None, reward=None,
                          model=None, epochs=1, learning_rate_multiplier=1.0, batch_size=4, lora_rank=16,
                          suffix=None, out=None, max_steps=None, seed=42, workspace=None, beta=None,
                          precision="auto", events=None) -> dict:
    """`selfclone train --method dpo|reward|rl`: gather pairs or prompts, create the run, train, report.
    Returns the run's run.json (with `run_dir`)."""
    from . import dpo, reward as reward_mod, rl

    ws = workspace
    runs_dir = ws.runs_dir if ws else Path("runs")
    pairs, ranked, info = _pairs(preferences, from_, ws, runs_dir) if (method != "rl" or data is None) \
        else ([], None, {})
    start = start_point(_default_start(method, from_, model, ranked, ws), runs_dir)
    match = models.CLONE_NAME.match(start.ref.name) if start.ref.kind == "clone" else None
    base_suffix = match["suffix"] if match else (ws.config.name if ws else "clone")
    settings = PreferenceSettings(method, start=start.ref.name, epochs=epochs, batch_size=batch_size,
                                  learning_rate_multiplier=learning_rate_multiplier, lora_rank=lora_rank, beta=beta,
                                  max_steps=max_steps, seed=seed, precision=precision,
                                  suffix=suffix or f"{base_suffix}-{method}",
                                  reward_run=str(reward) if reward else None)
    if method == "rl":
        prompts = [p.messages for p in prompts_from_file(data, ws.config.system if ws else None)] if data \
            else [p.prompt for p in pairs]
        run = rl.prepare(prompts, settings, start, out, runs_dir, info)
    else:
        if validation is not None:
            train_pairs, valid_pairs = pairs, read_preferences(validation)
        else:
            train_pairs, valid_pairs = split_by_prompt(pairs, seed=seed)
        module = dpo if method == "dpo" else reward_mod
        run = module.prepare(train_pairs, valid_pairs, settings, start, out, runs_dir, info)
    console.print(f"run directory: {run.path}  ({method} from {start.ref.name}"
                  + (", continuing its LoRA adapter" if start.adapter else "") + ")")
    trainer = {"dpo": dpo, "reward": reward_mod, "rl": rl}[method]
    if events is not None:
        summary = trainer.train(run, start, events)
    else:
        with progress_bar() as progress:
            summary = trainer.train(run, start, PreferenceEvents(progress, method))
    info = run.info()
    _print_summary(info, summary, run)
    return info | {"run_dir": str(run.path)}


def _print_summary(info: dict, s: dict, run) -> None:
    console.print(f"\n[green]done:[/] [bold]{info['name']}[/]  ({run.path})")
    figures = {"reward_accuracy": "preference accuracy (last steps)", "reward_margin": "reward margin (last steps)",
               "valid_reward_accuracy": "held-out preference accuracy", "pair_accuracy": "pair accuracy (last steps)",
               "heldout_pairwise_accuracy": "held-out pairwise accuracy (reloaded model)",
               "reward_first": "reward of sampled replies, first step", "reward_last": "... last step",
               "kl": "KL to the supervised policy"}
    for key, label in figures.items():
        if s.get(key) is not None:
            console.print(f"  {label}: {s[key]:.3f}")
    if info["method"] == "reward" and not s.get("valid_pairs"):
        console.print("  [yellow]no held-out rankings (fewer than 10 ranked prompts): pass --validation FILE "
                      "for a pairwise accuracy[/]")
    console.print(f"  {s.get('steps', 0)} steps in {s.get('train_seconds', 0):.0f} s; curves: {run.curves_path}")
    if info["method"] == "reward":
        console.print(f"  use it: selfclone train --method rl --from CLONE --reward {run.path}")
    else:
        console.print(f"  talk to it: selfclone chat {info['name']}")


# --- selfclone rank ---------------------------------------------------------------------------------------

class _LazyBackend:
    """Opens the model only when new candidates are needed: resuming pending items starts at once."""

    def __init__(self, model: str, runs_dir: Path):
        self.model, self.runs_dir, self._backend = model, runs_dir, None

    def candidates(self, messages, options):
        if self._backend is None:
            from ..backends.registry import open_backend

            with console.status(f"loading {self.model} ..."):
                self._backend = open_backend(self.model, workspace_runs=self.runs_dir)
        return self._backend.candidates(messages, options)


def _read_line(prompt: str, prefill: str = "") -> str:
    if sys.stdin.isatty():
        import readline

        readline.set_startup_hook(lambda: readline.insert_text(prefill))
        try:
            return input(prompt)
        finally:
            readline.set_startup_hook(None)
    return input(prompt)


def _show(item, total: int, counts: dict) -> None:
    ranked, skipped = counts.get("ranked", 0), counts.get("skipped", 0)
    console.print()
    console.print(Text(f"prompt {ranked + skipped + 1} of {total}  ({ranked} ranked, {skipped} skipped so far)",
                       style="dim"))
    for message in item.prompt.messages:
        if message["role"] == "system":
            console.print(Text.assemble(("context: ", "dim"), message["content"]), soft_wrap=True)
        else:
            console.print(Text.assemble((f"{message['role']}: ", "bold"), message["content"]), soft_wrap=True)
    for i, text in enumerate(item.candidates, 1):
        console.print(Text.assemble((f"  [{i}] ", "bold cyan"), text or "(empty)"), soft_wrap=True)


def rank_loop(session: RankingSession) -> int:
    """Show items until the prompts run out, q, Ctrl-C or Ctrl-D; returns the rankings saved."""
    while (item := session.next_item()) is not None:
        if not item.candidates:
            console.print("[yellow]the model wrote nothing for this prompt; skipped[/]")
            session.log.skip(item)
            continue
        _show(item, len(session.prompts), session.log.counts(session.model))
        while True:
            try:
                line = _read_line("rank> ")
                response = parse_response(line, len(item.candidates))
                edited = None
                if response.kind == "quit":
                    return session.ranked_now
                if response.kind == "edit":
                    console.print("[dim]write it as you would say it (Enter saves):[/]")
                    edited = _read_line("you> ", item.candidates[response.order[0]])
                session.apply(item, response, edited)
                break
            except RankInputError as exc:
                console.print(f"[yellow]{exc.message}[/]" + (f"  [dim]{exc.hint}[/]" if exc.hint else ""))
            except (EOFError, KeyboardInterrupt):
                console.print()
                return session.ranked_now
        console.print({"skip": "[dim]skipped[/]", "edit": "[green]saved: your edit is the best reply, and a new "
                       "training example[/]"}.get(response.kind, "[green]saved[/]"))
    return session.ranked_now


def open_session(ws, store, model: str, prompts_file: Path | None, n: int, temperature: float,
                 max_tokens: int | None, seed: int, limit: int | None = None, rotate: int = 0) -> RankingSession:
    from ..backends.base import GenerationOptions

    if n < 2:
        raise DataError(f"--n must be at least 2 to compare candidates, got {n}", "use --n 4")
    prompts = prompts_from_file(prompts_file, ws.config.system or None) if prompts_file else workspace_prompts(ws, store)
    if rotate:
        rotate %= len(prompts)
        prompts = prompts[rotate:] + prompts[:rotate]
    options = GenerationOptions.from_defaults(ws.config.generation, temperature=temperature, top_p=0.95,
                                              max_tokens=max_tokens)
    model = expand_run_id(model, ws.runs_dir)
    return RankingSession(RankingLog(store), model_key(model, ws.runs_dir), _LazyBackend(model, ws.runs_dir), prompts,
                          n, options, seed=seed, limit=limit,
                          on_generate=lambda p: console.print(f"[dim]writing {n} candidates ...[/]"))


def rank_cmd(model: str = typer.Argument(..., help="the clone (or any model) that writes the candidates"),
             prompts: Path = typer.Option(None, "--prompts", help="chat JSONL or text (one question per line); "
                                          "default: held-out files in data/ and your interview questions"),
             n: int = typer.Option(4, "--n", help="candidates per prompt"),
             temperature: float = typer.Option(0.9, help="sampling temperature (higher: more varied candidates)"),
             max_tokens: int = typer.Option(None, help="longest candidate, in tokens (default: the workspace's)"),
             limit: int = typer.Option(None, help="stop after ranking this many prompts"),
             seed: int = typer.Option(0)):
    """Rank the clone's candidate replies by how much they sound like you; saved as you go, resumable."""
    ws = workspace()
    with ws.store() as store:
        session = open_session(ws, store, model, prompts, n, temperature, max_tokens, seed, limit)
        counts = session.log.counts(session.model)
        console.print(f"[bold]Ranking[/] candidates from {session.model}: {len(session.prompts)} prompts, "
                      f"{counts.get('ranked', 0)} ranked before.\n[dim]{HELP_LINE}. Every answer is saved at once.[/]")
        if sys.stdin.isatty():
            import readline  # noqa: F401  (line editing for input())
        done = rank_loop(session)
        total = session.log.counts(session.model).get("ranked", 0)
    console.print(f"\n{done} ranked in this session, {total} in all for {session.model}. "
                  "Run the same command to go on.\n  next: selfclone train --method dpo --from "
                  f"{model}   (or: selfclone preferences export --out prefs.jsonl)")


# --- selfclone preferences export -------------------------------------------------------------------------

@preferences_app.command("export")
def export_cmd(out: Path = typer.Option(..., "--out", "-o", help="the JSONL file to write"),
               format: str = typer.Option("dpo", "--format", help="dpo (OpenAI's DPO format) or pairs (TRL's)"),
               model: str = typer.Option(None, help="only rankings of this model (default: all)")):
    """Write the workspace's rankings as preference pairs."""
    if format not in FORMATS:
        raise DataError(f"unknown --format {format!r}", f"use one of: {', '.join(FORMATS)}")
    ws = workspace()
    with ws.store() as store:
        key = None
        if model:
            key = model if model in ranked_models(store) else model_key(model, ws.runs_dir)
        rankings = load_rankings(store, key)
    if not rankings:
        raise DataError("no rankings" + (f" for '{model}'" if model else "") + " in this workspace",
                        "rank some candidates first: `selfclone rank MODEL`")
    count = write_preferences(out, pairs_from_rankings(rankings), format)
    console.print(f"wrote {count} preference pairs from {len(rankings)} rankings to {out} ({format} format)")


def register_commands(app, bench):
    from .preference_bench import bench_preference
    from .refine import refine_cmd

    app.command("rank")(rank_cmd)
    app.command("refine")(refine_cmd)
    app.add_typer(preferences_app, name="preferences")
    bench.command("preference")(bench_preference)
