"""Refine rounds, the seed article's loop: generate, rank, train, repeat (`selfclone refine` in commands.py).

Each round: the current model writes candidates for `per_round` prompts and the person ranks them (or the
simulated ranker does: similarity to the real reply, labelled simulated); DPO trains the current model on that
model's rankings, continuing its adapter with the current model as reference; the new model gets its own name
(ft:BASE:SUFFIX-rN:RUN) and is compared with the previous one on held-out prompts that were never ranked:
held-out loss, and win rates by the reward model and by the simulated ranker. The comparison is kept in the new
run's run.json under "refine". Nothing here prints: the caller passes how to rank and how to train.

    plan = RefinePlan(rounds=2, per_round=10, simulate=True)
    row = one_round(ws, plan, 1, "ft:smollm2-135m:maggie:RUN", [], judges, rank_simulated, train)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import models
from ..dataset.chat import read_examples
from ..train.methods import Defaults, Prepared, TrainRequest, prepare
from ..train.rundir import RunDir
from .compare import Judges
from .rank import RankingSession, RankPrompt, Response, heldout_files, open_session


@dataclass(frozen=True)
class RefinePlan:
    rounds: int = 2
    per_round: int = 10
    prompts: Path | None = None
    n: int = 4
    simulate: bool = False
    heldout: Path | None = None
    compare_prompts: int = 20
    epochs: int = 2
    batch_size: int = 4
    learning_rate_multiplier: float = 1.0
    beta: float | None = None
    max_steps: int | None = None
    temperature: float = 0.9
    max_tokens: int = 60
    seed: int = 0


def rank_simulated(session) -> int:
    """Rank every item with the simulated ranker (no person): the order of similarity to the real reply."""
    from .compare import simulated_order

    while (item := session.next_item()) is not None:
        if len(item.candidates) < 2 or not item.prompt.reference:
            session.log.skip(item)
            continue
        session.apply(item, Response("order", tuple(simulated_order(item.candidates, item.prompt.reference))))
    return session.ranked_now


def _ranked_keys(store, names: list[str]) -> set[str]:
    marks = ",".join("?" * len(names))
    return {r[0] for r in store.db.execute(f"select prompt_key from rank_items where model in ({marks})", names)}


def judges_for(ws, model: str, reward: Path | None, simulate: bool) -> Judges:
    """The judges of each round's comparison; a reward model must share the clone's base."""
    if not reward:
        return Judges(None, simulate)
    from ..train.preference_runs import reward_run_info, start_point
    from ..train.reward import RewardScorer
    from ..train.rl import check_reward_base

    reward_run, reward_info = reward_run_info(str(reward), ws.runs_dir)
    check_reward_base(reward_info, start_point(model, ws.runs_dir), reward_run.path)
    return Judges(RewardScorer(reward_run.path), simulate)


def base_suffix(ws, model: str) -> str:
    match = models.CLONE_NAME.match(models.resolve(model, ws.runs_dir).name)
    return match["suffix"] if match else ws.config.name


def one_round(ws, plan: RefinePlan, round_no: int, current: str, history: list[dict], judges: Judges,
              rank: Callable[[RankingSession], int], train: Callable[[Prepared], dict],
              note: Callable[[str], None] = lambda text: None) -> dict:
    """Rank, train with DPO, compare; returns the round's row (also stored in the new run's run.json)."""
    from ..backends.transformers_backend import TransformersBackend
    from ..dataset.preferences import pairs_from_store
    from ..train.preference_runs import model_key
    from .compare import compare

    with ws.store() as store:
        session = open_session(ws, store, current, plan.prompts, plan.n, plan.temperature, plan.max_tokens,
                               plan.seed + round_no, limit=plan.per_round, rotate=(round_no - 1) * plan.per_round,
                               on_generate=lambda p: note(f"writing {plan.n} candidates ..."))
        done = rank(session)
        key = model_key(current, ws.runs_dir)
        pairs = pairs_from_store(store, key)
    note(f"{done} prompts ranked" + (" (simulated ranker)" if plan.simulate else ""))
    request = TrainRequest(method="dpo", from_=current, epochs=plan.epochs, batch_size=plan.batch_size,
                           learning_rate_multiplier=plan.learning_rate_multiplier,
                           suffix=f"{base_suffix(ws, current)}-r{round_no}", max_steps=plan.max_steps,
                           seed=plan.seed, beta=plan.beta, pairs=tuple(pairs), ranked_model=key,
                           pairs_info={"rankings_of": key})
    prepared = prepare(request, ws.runs_dir, Defaults(ws.config.model, ws.config.name, ws.config.system or None))
    train(prepared)
    info = prepared.run.info()
    new, summary = info["name"], info.get("summary", {})
    row = {"round": round_no, "model": new, "previous": current, "ranked": done, "pairs": summary.get("pairs"),
           "simulated": plan.simulate}
    if plan.compare_prompts:
        with ws.store() as store:
            used = _ranked_keys(store, [current, new] + [h["previous"] for h in history])
        pool = read_examples(plan.heldout) if plan.heldout else [e for p in heldout_files(ws.data_dir)
                                                                  for e in read_examples(p)]
        examples = [e for e in pool if RankPrompt(tuple(e.prompt())).key not in used][:plan.compare_prompts]
        if examples:
            note(f"comparing {new} with {current} on {len(examples)} held-out prompts ...")
            result = compare(TransformersBackend(current, workspace_runs=ws.runs_dir),
                             TransformersBackend(new, workspace_runs=ws.runs_dir), examples, judges,
                             max_tokens=plan.max_tokens)
            row |= {k: v for k, v in result.items() if not k.endswith("_replies")}
        else:
            note("no unranked held-out prompts to compare on: pass --heldout FILE")
    RunDir(prepared.run.path).update(refine=row)
    return row
