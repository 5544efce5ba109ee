"""The HTML report of `selfclone eval --report REPORT.html`: one self-contained file (inline CSS, plots as
embedded PNG), readable offline and safe to mail.

It holds the metrics table (best value per column marked), bar charts of every metric with the attribution
ceiling, the reply-length distributions of real and generated replies, the style distance per feature, and
real and generated replies side by side. docs/EVALUATE.md explains how to read it.

    write_report(Path("report.html"), comparison, title="Maggie: clone vs baselines")
"""
from __future__ import annotations

import base64
import html
import io
import math
from datetime import datetime
from pathlib import Path

from ..fileio import write_text
from .compare import LOWER_IS_BETTER, METRICS, Comparison
from .style import FEATURES, style_features

LABELS = {"heldout_loss": "held-out loss ↓", "perplexity": "perplexity ↓", "attribution_rate": "attribution ↑",
          "similarity": "similarity ↑", "style_distance": "style distance ↓"}
HELP = {
    "heldout_loss": "mean loss per token of the person's real replies (lower: the model expects their words)",
    "perplexity": "exp(loss): roughly how many tokens the model hesitates between",
    "attribution_rate": "share of generated replies a style classifier attributes to the person; the real "
                        "held-out replies' share is the ceiling",
    "similarity": "mean cosine of each generated reply to the real reply to the same prompt (embedding model)",
    "style_distance": "mean Kolmogorov-Smirnov distance of length, punctuation, emoji and casing distributions "
                      "(0 = same, 1 = no overlap)",
}
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} .sub{color:#666;margin-top:0} table{border-collapse:collapse;margin:1rem 0;width:100%}
th,td{border:1px solid #ddd;padding:.4rem .6rem;vertical-align:top;text-align:left} th{background:#f4f4f4}
td.num{text-align:right;font-variant-numeric:tabular-nums} td.best{background:#e4f6e4;font-weight:600}
.samples td{font-size:.92rem;white-space:pre-wrap} .real{background:#fffbe6} img{max-width:100%}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem} dt{font-weight:600}
"""


def _fmt(metric: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if metric in ("attribution_rate",):
        return f"{value:.0%}"
    if metric == "perplexity":
        return f"{value:.1f}"
    return f"{value:.3f}"


def _best(comparison: Comparison, metric: str):
    values = [r.metrics.get(metric) for r in comparison.results]
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return None
    return min(values) if metric in LOWER_IS_BETTER else max(values)


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def metric_plot(comparison: Comparison) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.name for r in comparison.results]
    shown = [m for m in ("heldout_loss", "attribution_rate", "similarity", "style_distance")
             if any(r.metrics.get(m) is not None for r in comparison.results)]
    fig, axes = plt.subplots(1, len(shown), figsize=(3.6 * len(shown), 3.4 + 0.12 * max(map(len, names))), squeeze=False)
    for ax, metric in zip(axes[0], shown):
        values = [r.metrics.get(metric) or 0.0 for r in comparison.results]
        ax.bar(range(len(names)), values, color="#4c78a8")
        if metric == "attribution_rate" and comparison.attribution_ceiling is not None:
            ax.axhline(comparison.attribution_ceiling, color="#e45756", ls="--", label="real replies (ceiling)")
            ax.legend(fontsize=8)
        ax.set_title(LABELS[metric])
        ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def length_plot(comparison: Comparison) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    series = {"real replies": [style_features(t)["length"] for t in comparison.real]}
    series |= {r.name: [style_features(t)["length"] for t in r.replies] for r in comparison.results}
    top = max(max(v, default=1) for v in series.values())
    bins = np.linspace(0, max(top, 1), 21)
    fig, ax = plt.subplots(figsize=(8, 3.4))
    for i, (name, values) in enumerate(series.items()):
        ax.hist(values, bins=bins, histtype="step", lw=2.5 if i == 0 else 1.4, label=name,
                color="#222" if i == 0 else None)
    ax.set_xlabel("reply length (words)")
    ax.set_ylabel("replies")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def style_plot(comparison: Comparison) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.2))
    width = 0.8 / max(len(comparison.results), 1)
    for i, r in enumerate(comparison.results):
        ax.bar([f + i * width for f in range(len(FEATURES))], [r.style.get(f, 0.0) for f in FEATURES], width,
               label=r.name)
    ax.set_xticks([f + 0.4 - width / 2 for f in range(len(FEATURES))], FEATURES)
    ax.set_ylabel("KS distance to real")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def render(comparison: Comparison, title: str = "selfclone evaluation", samples: int = 12) -> str:
    esc = html.escape
    info = comparison.info
    gen = info.get("generation", {})
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
             f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1>",
             f"<p class='sub'>{len(comparison.heldout)} held-out replies · {info.get('train_examples', 0)} training "
             f"examples for the style classifier · generated {datetime.now():%Y-%m-%d %H:%M} on "
             f"{esc(info.get('machine', ''))} · max_tokens {gen.get('max_tokens')}, temperature "
             f"{gen.get('temperature')}, seed {gen.get('seed')}</p>"]

    parts.append("<h2>Metrics</h2><table class='metrics'><tr><th>model</th>"
                 + "".join(f"<th>{esc(LABELS[m])}</th>" for m in METRICS) + "</tr>")
    best = {m: _best(comparison, m) for m in METRICS}
    for r in comparison.results:
        cells = []
        for m in METRICS:
            v = r.metrics.get(m)
            mark = " best" if v is not None and best[m] is not None and v == best[m] and len(comparison.results) > 1 else ""
            cells.append(f"<td class='num{mark}'>{_fmt(m, v)}</td>")
        parts.append(f"<tr><td>{esc(r.name)}</td>{''.join(cells)}</tr>")
    if comparison.attribution_ceiling is not None:
        parts.append("<tr><td><i>real held-out replies</i></td><td></td><td></td>"
                     f"<td class='num'>{_fmt('attribution_rate', comparison.attribution_ceiling)}</td>"
                     "<td class='num'>1.000</td><td class='num'>0.000</td></tr>")
    parts.append("</table><dl>" + "".join(f"<dt>{esc(LABELS[m])}</dt><dd>{esc(HELP[m])}</dd>" for m in METRICS)
                 + "</dl>")

    parts.append("<h2>Plots</h2>")
    for alt, src in (("metrics per model", metric_plot(comparison)),
                     ("reply length distributions", length_plot(comparison)),
                     ("style distance per feature", style_plot(comparison))):
        parts.append(f"<figure><img alt='{alt}' src='{src}'><figcaption>{alt}</figcaption></figure>")

    parts.append(f"<h2>Side by side ({min(samples, len(comparison.heldout))} of {len(comparison.heldout)})</h2>"
                 "<table class='samples'><tr><th>conversation</th><th class='real'>real reply</th>"
                 + "".join(f"<th>{esc(r.name)}</th>" for r in comparison.results) + "</tr>")
    for i, example in enumerate(comparison.heldout[:samples]):
        context = "\n".join(f"{m['role']}: {m['content']}" for m in example.prompt() if m["role"] != "system")
        parts.append(f"<tr><td>{esc(context)}</td><td class='real'>{esc(example.reply())}</td>"
                     + "".join(f"<td>{esc(r.replies[i])}</td>" for r in comparison.results) + "</tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts)


def write_report(path: Path, comparison: Comparison, title: str = "selfclone evaluation", samples: int = 12) -> Path:
    write_text(path, render(comparison, title, samples))
    return Path(path)
