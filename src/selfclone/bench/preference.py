"""`selfclone bench preference`: does DPO on (simulated) rankings move the clone toward the person?

On the demo persona (Maggie), in one run:
  1. a supervised LoRA clone (train.sft), unless --from names one: the baseline;
  2. SIMULATED rankings: the clone writes --n candidates for --rank-prompts training prompts, ordered by
     embedding similarity to Maggie's real reply (preference_compare.simulated_order), saved as rankings;
  3. DPO on top of the clone, on each ranking's most confident pair (most vs least similar candidate);
  4. a reward model on every pair of the rankings, 10% of the prompts held out for its pairwise accuracy;
  5. both models answer the held-out prompts (greedy) through `selfclone eval`'s comparison: held-out loss of
     Maggie's real replies, similarity, attribution rate (with the real replies' rate as the ceiling); and
     the DPO model's per-prompt win rate over the clone, judged by the reward model and by the simulated ranker.
The baseline (the supervised clone) is measured in the same run; the figures are ratios against it.

    selfclone bench preference                       # about 20 minutes on 2 cores
    selfclone bench preference --from ft:smollm2-135m:maggie:RUN --rank-prompts 24 --json out.json
"""
from __future__ import annotations

import json
import random
import tempfile
import time
from pathlib import Path

import typer
from rich.table import Table

from .. import machine
from ..demo import demo_files, persona
from ..terminal import console


def _demo_workspace(directory: Path):
    from ..workspace import CONFIG_NAME, Workspace

    if (directory / CONFIG_NAME).exists():
        return Workspace.open(directory)
    info = persona()
    return Workspace.init(directory, name="maggie", person=info["name"], system=info["system"])


def bench_preference(
        from_: str = typer.Option(None, "--from", help="a supervised clone to start from (default: train one)"),
        model: str = typer.Option("smollm2-135m", help="the base model of the clone trained here"),
        directory: Path = typer.Option(None, "--dir", help="workspace folder (default: a temporary one)"),
        rank_prompts: int = typer.Option(48, help="training prompts the clone writes candidates for"),
        n: int = typer.Option(4, "--n", help="candidates per prompt"),
        sft_epochs: int = typer.Option(1, help="epochs of the supervised clone"),
        dpo_epochs: int = typer.Option(2, help="DPO epochs"),
        learning_rate_multiplier: float = typer.Option(4.0, help="DPO: x 5e-5"),
        compare_prompts: int = typer.Option(0, "--compare", help="held-out prompts to judge on (0: all)"),
        json_out: Path = typer.Option(None, "--json", help="also write the figures here"),
        threads: int = typer.Option(None, help="torch threads (default: all cores; 1 is faster on a busy machine)"),
        seed: int = typer.Option(0)):
    """DPO on simulated rankings vs the supervised clone: win rates, held-out loss, attribution rate."""
    from ..config import GenerationOptions
    from ..backends.transformers_backend import TransformersBackend
    from ..dataset.chat import read_examples
    from ..train import dpo, reward, sft
    from ..dataset.preferences import PreferencePair, load_rankings, pairs_from_rankings, split_by_prompt
    from ..refine.compare import Judges, compare
    from ..train.preference_runs import PreferenceSettings, start_point
    from ..evaluate.generate import generate_replies
    from ..refine.rank import RankingLog, RankingSession, distinct, prompts_from_file
    from ..refine.rounds import rank_simulated
    from ..train.settings import SFTSettings

    times: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[name] = round(now - clock, 1)
        clock = now

    import torch

    if threads:
        torch.set_num_threads(threads)
    console.print(f"[bold]bench preference[/] on {machine.describe()}, {torch.get_num_threads()} torch threads")
    ws = _demo_workspace(directory or Path(tempfile.mkdtemp(prefix="selfclone-bench-pref-")) / "ws")
    demo = demo_files()
    train, heldout = read_examples(demo / "train.jsonl"), read_examples(demo / "heldout.jsonl")
    heldout = heldout[:compare_prompts] if compare_prompts else heldout
    if from_ is None:
        settings = SFTSettings(model=model, epochs=sft_epochs, suffix="maggie", report_to=("none",), seed=seed,
                               threads=threads)
        run = sft.prepare_run(train, [], settings, None, ws.runs_dir, {"train_file": "demo/train.jsonl"})
        with console.status(f"1/5 supervised clone: {len(train)} examples, {sft_epochs} epoch(s) ..."):
            sft.train(run, workspace_runs=ws.runs_dir)
        from_ = run.info()["name"]
    lap("sft")
    console.print(f"1/5 supervised clone: {from_} ({times['sft']:.0f} s)")

    sft_backend = TransformersBackend(from_, workspace_runs=ws.runs_dir)
    prompts = prompts_from_file(demo / "train.jsonl")
    random.Random(seed).shuffle(prompts)
    prompts = prompts[:rank_prompts]
    with ws.store() as store, console.status(f"2/5 SIMULATED rankings of {n} candidates for {len(prompts)} "
                                             "prompts ..."):
        # Candidates in batches across prompts (what `selfclone rank` does one prompt at a time), then ranked.
        options = GenerationOptions(max_tokens=48, temperature=0.9, top_p=0.95, frequency_penalty=0.3, seed=seed)
        texts = generate_replies(sft_backend, [p.messages for p in prompts for _ in range(n)], options, 16)
        log = RankingLog(store)
        for i, prompt in enumerate(prompts):
            log.add_item(from_, prompt, list(distinct(texts[i * n:(i + 1) * n]).values()))
        ranked = rank_simulated(RankingSession(log, from_, sft_backend, prompts, n, options))
        rankings = load_rankings(store, from_)
    lap("simulated_ranking")
    console.print(f"2/5 {ranked} SIMULATED rankings (by similarity to the real reply; {times['simulated_ranking']:.0f} s)")

    start = start_point(from_, ws.runs_dir)
    confident = [PreferencePair(r.prompt, r.candidates[r.order[0]], r.candidates[r.order[-1]])
                 for r in rankings if len(r.order) >= 2]
    dpo_settings = PreferenceSettings("dpo", start=from_, epochs=dpo_epochs, batch_size=4, seed=seed,
                                      learning_rate_multiplier=learning_rate_multiplier, suffix="maggie-dpo",
                                      report_to=("none",))
    dpo_run = dpo.prepare(confident, [], dpo_settings, start, None, ws.runs_dir, {"rankings": "simulated"})
    with console.status(f"3/5 DPO on {len(confident)} pairs ..."):
        dpo_summary = dpo.train(dpo_run, start)
    dpo_name = dpo_run.info()["name"]
    lap("dpo")
    console.print(f"3/5 DPO: {dpo_name} ({dpo_summary['steps']} steps, {times['dpo']:.0f} s)")

    all_pairs, rm_valid = split_by_prompt(pairs_from_rankings(rankings), seed=seed)
    rm_settings = PreferenceSettings("reward", start=from_, epochs=1, batch_size=8, seed=seed, suffix="maggie-rm",
                                     report_to=("none",))
    rm_run = reward.prepare(all_pairs, rm_valid, rm_settings, start, None, ws.runs_dir, {"rankings": "simulated"})
    with console.status(f"4/5 reward model on {len(all_pairs)} pairs ..."):
        rm_summary = reward.train(rm_run, start)
    lap("reward_model")
    console.print(f"4/5 reward model: held-out pairwise accuracy {rm_summary.get('heldout_pairwise_accuracy', 0):.2f} "
                  f"on {len(rm_valid)} pairs ({times['reward_model']:.0f} s)")

    with console.status(f"5/5 both models answer {len(heldout)} held-out prompts ..."):
        result = compare(sft_backend, TransformersBackend(dpo_name, workspace_runs=ws.runs_dir), heldout,
                         Judges(reward.RewardScorer(rm_run.path), simulated=True), train=train)
    lap("compare")
    figures = {"machine": machine.describe(), "torch_threads": torch.get_num_threads(), "sft_model": from_, "dpo_model": dpo_name, "rank_prompts": ranked,
               "candidates": n, "dpo_pairs": len(confident), "reward_pairs": len(all_pairs),
               "reward_heldout_pairs": len(rm_valid), "reward_heldout_accuracy": rm_summary.get("heldout_pairwise_accuracy"),
               "dpo_final_reward_accuracy": dpo_summary.get("reward_accuracy"), "seconds": times} | \
        {k: v for k, v in result.items() if not k.endswith("_replies")}
    _print(figures)
    if json_out:
        json_out.write_text(json.dumps(figures | {"examples": [
            {"prompt": e.prompt()[-1]["content"], "real": e.reply(), "sft": a, "dpo": b}
            for e, a, b in zip(heldout, result["old_replies"], result["new_replies"])]}, indent=2))
    return figures


def _print(f: dict) -> None:
    table = Table(title=f"DPO on SIMULATED rankings vs the supervised clone, {f['prompts']} held-out prompts")
    table.add_column("measure")
    table.add_column("supervised clone (baseline)")
    table.add_column("DPO on top")
    table.add_row("held-out loss (lower = closer to Maggie)", f"{f['old_heldout_loss']:.3f}", f"{f['new_heldout_loss']:.3f}")
    table.add_row("similarity to the real reply", f"{f['old_similarity']:.3f}", f"{f['new_similarity']:.3f}")
    table.add_row("mean reward (reward model)", f"{f['old_mean_reward']:.3f}", f"{f['new_mean_reward']:.3f}")
    table.add_row(f"attribution rate (real replies: {f['attribution_ceiling']:.2f})", f"{f['old_attribution_rate']:.2f}",
                  f"{f['new_attribution_rate']:.2f}")
    console.print(table)
    console.print(f"win rate of DPO over the clone, judged by the reward model: [bold]{f['win_rate_reward_model']:.0%}[/]"
                  f"; by the simulated ranker: [bold]{f['win_rate_simulated']:.0%}[/] (50% = no difference)")
    console.print(f"reward model held-out pairwise accuracy: {f['reward_heldout_accuracy']:.2f} "
                  f"({f['reward_heldout_pairs']} pairs); seconds: {f['seconds']}")
