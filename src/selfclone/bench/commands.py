"""`selfclone bench ...`: every benchmark, each printing the machine and a baseline measured in the same run.

    selfclone bench train --steps 10
    selfclone bench chat
    selfclone bench frontends
"""
from __future__ import annotations

import typer

from . import chat, eval, frontends, imports, jobs, preference, prepare, quality, recall, recipe, serve, train

BENCHMARKS = {
    "import": imports.bench_import_cmd,
    "prepare": prepare.bench_prepare,
    "train": train.bench_train,
    "preference": preference.bench_preference,
    "chat": chat.bench_chat,
    "eval": eval.bench_eval,
    "quality": quality.bench_quality,
    "recall": recall.bench_recall,
    "frontends": frontends.bench_frontends,
    "recipe": recipe.bench_recipe,
    "serve": serve.bench_serve,
    "jobs": jobs.bench_jobs,
}


def register_commands(app):
    bench = typer.Typer(help="Benchmarks: measured figures with a baseline from the same run.", no_args_is_help=True)
    for name, command in BENCHMARKS.items():
        bench.command(name)(command)
    app.add_typer(bench, name="bench")
