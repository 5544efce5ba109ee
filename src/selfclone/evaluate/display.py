"""How an evaluation looks in a terminal: the comparison table that `selfclone eval` and `selfclone bench quality` print."""
from __future__ import annotations

from rich.table import Table

from ..terminal import console
from .compare import METRICS


def print_comparison(result) -> None:
    from .report import _fmt

    short = {"heldout_loss": "loss ↓", "perplexity": "ppl ↓", "attribution_rate": "attrib ↑",
             "similarity": "sim ↑", "style_distance": "style ↓"}
    table = Table(title=f"{len(result.heldout)} held-out replies")
    table.add_column("model", overflow="fold")
    for m in METRICS:
        table.add_column(short[m], justify="right", no_wrap=True)
    for r in result.results:
        table.add_row(r.name, *[_fmt(m, r.metrics.get(m)) for m in METRICS])
    if result.attribution_ceiling is not None:
        table.add_row("[i]real held-out replies[/]", "", "", _fmt("attribution_rate", result.attribution_ceiling),
                      "1.000", "0.000")
    console.print(table)
    console.print("[dim]↓ lower is better, ↑ higher is better; attribution of the real replies is the ceiling "
                  "(`selfclone help evaluate`)[/]")
