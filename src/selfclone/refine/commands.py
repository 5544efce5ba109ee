"""Commands for preference refinement: `selfclone rank`, `selfclone preferences export` and `selfclone refine`
(the preference trainers themselves run through `selfclone train --method dpo|reward|rl`).

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
from rich.table import Table
from rich.text import Text

from .. import models
from ..dataset.preferences import FORMATS, load_rankings, pairs_from_rankings, ranked_models, write_preferences
from ..errors import DataError
from ..terminal import console, workspace
from ..train.display import run_prepared
from ..train.preference_runs import model_key
from .rank import RankInputError, RankingSession, open_session, parse_response
from .rounds import RefinePlan, judges_for, one_round, rank_simulated

preferences_app = typer.Typer(help="Preference pairs from your rankings.", no_args_is_help=True)
HELP_LINE = ("order best first (2 1 4 3) · b2 w4 best and worst · e2 edit candidate 2 into your own words · "
             "s skip · q quit")


# --- selfclone rank ---------------------------------------------------------------------------------------

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
        session = open_session(ws, store, model, prompts, n, temperature, max_tokens, seed, limit,
                               on_generate=lambda p: console.print(f"[dim]writing {n} candidates ...[/]"))
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


def refine_cmd(model: str = typer.Argument(..., help="the supervised clone to start from"),
               rounds: int = typer.Option(2, min=1, help="generate-rank-train rounds"),
               per_round: int = typer.Option(10, min=1, help="prompts ranked in each round"),
               prompts: Path = typer.Option(None, "--prompts", help="prompts to rank (chat JSONL or text); default: "
                                            "held-out files in data/ and your interview questions"),
               n: int = typer.Option(4, "--n", help="candidates per prompt"),
               simulate: bool = typer.Option(False, help="rank by similarity to the real reply instead of asking "
                                             "(needs prompts with real replies; labelled simulated)"),
               reward: Path = typer.Option(None, help="a reward model run that also judges each round"),
               heldout: Path = typer.Option(None, help="chat JSONL to compare rounds on (default: the workspace's "
                                            "held-out files, minus every prompt ranked here)"),
               compare_prompts: int = typer.Option(20, "--compare", help="held-out prompts per comparison (0: none)"),
               epochs: int = typer.Option(2, help="DPO epochs per round"),
               batch_size: int = typer.Option(4),
               learning_rate_multiplier: float = typer.Option(1.0),
               beta: float = typer.Option(None, help="DPO beta (default 0.1)"),
               max_steps: int = typer.Option(None, help="cap DPO steps per round"),
               temperature: float = typer.Option(0.9, help="sampling temperature of the candidates"),
               max_tokens: int = typer.Option(60, help="longest candidate and comparison reply, in tokens"),
               seed: int = typer.Option(0)):
    """Generate, rank, train, repeat: each round's model is kept, named and compared with the previous one."""
    ws = workspace()
    plan = RefinePlan(rounds=rounds, per_round=per_round, prompts=prompts, n=n, simulate=simulate, heldout=heldout,
                      compare_prompts=compare_prompts, epochs=epochs, batch_size=batch_size,
                      learning_rate_multiplier=learning_rate_multiplier, beta=beta, max_steps=max_steps,
                      temperature=temperature, max_tokens=max_tokens, seed=seed)
    current = models.resolve(model, ws.runs_dir).name
    judges = judges_for(ws, model, reward, simulate)
    history: list[dict] = []
    for round_no in range(1, rounds + 1):
        console.rule(f"round {round_no}/{rounds}: {current}")
        row = one_round(ws, plan, round_no, current, history, judges, rank_simulated if simulate else rank_loop,
                        lambda prepared: run_prepared(prepared, "dpo"), note=lambda t: console.print(f"[dim]{t}[/]"))
        history.append(row)
        current = row["model"]
    print_rounds(history)
    if not history:
        raise DataError("no round finished")


def print_rounds(history: list[dict]) -> None:
    table = Table(title="refine: each round against the previous one")
    for col in ("round", "model", "pairs", "held-out loss (prev -> new)", "win rate: reward model",
                "win rate: simulated"):
        table.add_column(col)
    for h in history:
        loss = f"{h['old_heldout_loss']:.3f} -> {h['new_heldout_loss']:.3f}" if "old_heldout_loss" in h else "-"
        table.add_row(str(h["round"]), h["model"], str(h.get("pairs", "-")), loss,
                      f"{h['win_rate_reward_model']:.0%}" if "win_rate_reward_model" in h else "-",
                      f"{h['win_rate_simulated']:.0%}" if "win_rate_simulated" in h else "-")
    console.print(table)


def register_commands(app):
    app.command("rank")(rank_cmd)
    app.command("refine")(refine_cmd)
    app.add_typer(preferences_app, name="preferences")
