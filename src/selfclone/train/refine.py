"""`selfclone refine MODEL --rounds N`: the seed article's loop. Generate, rank, train, repeat.

Each round: the current model writes candidates for `--per-round` prompts and the person ranks them (or, with
`--simulate`, the simulated ranker does: similarity to the real reply, labelled simulated); DPO trains the
current model on that model's rankings, continuing its adapter with the current model as reference; the new
model gets its own name (ft:BASE:SUFFIX-rN:RUN) and is compared with the previous one on held-out prompts
that were never ranked: held-out loss, and win rates by the reward model (--reward) and by the simulated
ranker (--simulate). The comparison is kept in the new run's run.json under "refine".

    selfclone refine ft:smollm2-135m:maggie:RUN --rounds 3 --per-round 20
    selfclone refine ft:smollm2-135m:maggie:RUN --rounds 2 --simulate --prompts data/maggie-train.jsonl
"""
from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from .. import models
from ..dataset.chat import read_examples
from ..errors import DataError
from ..terminal import console, workspace
from .preference_commands import open_session, rank_loop, run_preference_method
from .rank import RankPrompt, Response, heldout_files
from .rundir import RunDir


def rank_simulated(session) -> int:
    """Rank every item with the simulated ranker (no person): the order of similarity to the real reply."""
    from .preference_compare import simulated_order

    while (item := session.next_item()) is not None:
        if len(item.candidates) < 2 or not item.prompt.reference:
            session.log.skip(item)
            continue
        session.apply(item, Response("order", tuple(simulated_order(item.candidates, item.prompt.reference))))
    return session.ranked_now


def _ranked_keys(store, names: list[str]) -> set[str]:
    marks = ",".join("?" * len(names))
    return {r[0] for r in store.db.execute(f"select prompt_key from rank_items where model in ({marks})", names)}


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
    from ..backends.transformers_backend import TransformersBackend
    from .preference_compare import Judges, compare
    from .reward import RewardScorer

    ws = workspace()
    start = models.resolve(model, ws.runs_dir)
    match = models.CLONE_NAME.match(start.name)
    base_suffix = match["suffix"] if match else ws.config.name
    if reward:
        from .preference_runs import reward_run_info, start_point
        from .rl import check_reward_base

        reward_run, reward_info = reward_run_info(str(reward), ws.runs_dir)
        check_reward_base(reward_info, start_point(model, ws.runs_dir), reward_run.path)
    judges = Judges(RewardScorer(reward_run.path) if reward else None, simulate)
    current, history = start.name, []
    for round_no in range(1, rounds + 1):
        console.rule(f"round {round_no}/{rounds}: {current}")
        with ws.store() as store:
            session = open_session(ws, store, current, prompts, n, temperature, max_tokens, seed + round_no,
                                   limit=per_round, rotate=(round_no - 1) * per_round)
            done = rank_simulated(session) if simulate else rank_loop(session)
        console.print(f"{done} prompts ranked" + (" (simulated ranker)" if simulate else ""))
        info = run_preference_method("dpo", from_=current, epochs=epochs, batch_size=batch_size,
                                     learning_rate_multiplier=learning_rate_multiplier,
                                     suffix=f"{base_suffix}-r{round_no}", max_steps=max_steps, seed=seed,
                                     workspace=ws, beta=beta)
        new = info["name"]
        row = {"round": round_no, "model": new, "previous": current, "ranked": done,
               "pairs": info["summary"].get("pairs"), "simulated": simulate}
        if compare_prompts:
            with ws.store() as store:
                used = _ranked_keys(store, [current, new] + [h["previous"] for h in history])
            pool = read_examples(heldout) if heldout else [e for p in heldout_files(ws.data_dir)
                                                            for e in read_examples(p)]
            examples = [e for e in pool if RankPrompt(tuple(e.prompt())).key not in used][:compare_prompts]
            if examples:
                with console.status(f"comparing {new} with {current} on {len(examples)} held-out prompts ..."):
                    result = compare(TransformersBackend(current, workspace_runs=ws.runs_dir),
                                     TransformersBackend(new, workspace_runs=ws.runs_dir), examples, judges,
                                     max_tokens=max_tokens)
                row |= {k: v for k, v in result.items() if not k.endswith("_replies")}
            else:
                console.print("[yellow]no unranked held-out prompts to compare on: pass --heldout FILE[/]")
        run = RunDir(Path(info["run_dir"]))
        run.update(refine=row)
        history.append(row)
        current = new
    _print_rounds(history)
    if not history:
        raise DataError("no round finished")


def _print_rounds(history: list[dict]) -> None:
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
