"""Reports of a `selfclone prepare` run: Rich lines and tables for the terminal, and one self-contained HTML file.

    console.print(finding_line(finding))          # as each check reports
    print_summary(prep, console, written)         # token table, counts, files
    write_html(prep, Path("report.html"), written)

The HTML page embeds its length histogram as a base64 PNG (matplotlib, no pyplot state) and lists every
finding with its rows and samples; it loads nothing from the network.
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..fileio import write_text
from .validate import Finding, Preparation

ICONS = {"info": ("·", "cyan"), "warning": ("!", "yellow"), "error": ("✗", "bold red")}
STAT_NAMES = {"tokens": "tokens per example", "assistant_tokens": "trained (assistant) tokens",
              "messages": "messages per example"}
MAX_ROWS_SHOWN = 2000


def fix_status(finding: Finding) -> str:
    if finding.fix is None:
        return ""
    if finding.fix.necessary:
        return f"[Necessary] {finding.fix.description}"
    return f"[{'Applied' if finding.applied else 'Not applied'}] {finding.fix.description}"


def finding_line(finding: Finding, with_fix: bool = True) -> Text:
    """One finding as Rich text; with its fix's outcome once decided (the CLI prints that as it asks)."""
    icon, style = ICONS[finding.severity]
    line = Text(f"{icon} ", style=style)
    line.append(finding.message)
    if with_fix and finding.fix is not None and finding.applied is not None:
        line.append(f"\n    {fix_status(finding)}", style="green" if finding.applied else "yellow")
    return line


def stats_table(prep: Preparation) -> Table | None:
    rows = [(STAT_NAMES[k], prep.stats[k]) for k in STAT_NAMES if prep.stats.get(k)]
    if not rows:
        return None
    table = Table(title=f"Token counts ({prep.settings.model} tokenizer, chat template included)")
    table.add_column("per example")
    for col in ("min", "p5", "p50", "mean", "p95", "max"):
        table.add_column(col, justify="right")
    for name, s in rows:
        table.add_row(name, *(f"{s[c]:.0f}" if c != "mean" else f"{s[c]:.1f}"
                              for c in ("min", "p5", "p50", "mean", "p95", "max")))
    return table


def print_summary(prep: Preparation, console: Console, written: list[Path] | None = None) -> None:
    table = stats_table(prep)
    if table is not None:
        console.print(table)
    kept = len(prep.train) + len(prep.valid)
    console.print(f"[bold]{prep.n_read}[/] rows read, [bold]{kept}[/] examples kept "
                  f"({len(prep.train)} train, {len(prep.valid)} validation)")
    for path in written or []:
        console.print(f"[green]wrote[/] {path}")
    if written:
        console.print(f"  next: [bold]selfclone train {written[0]}[/]")


def histogram_png(prep: Preparation) -> bytes | None:
    """A PNG histogram of tokens per kept example, with p5/p50/p95 and the context limit marked."""
    lengths = [e.meta["tokens"] for e in prep.train + prep.valid if "tokens" in e.meta]
    if not lengths:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.2), dpi=100)
    ax = fig.add_subplot()
    ax.hist(lengths, bins=min(60, max(5, len(set(lengths)))), color="#4c78a8")
    stats = prep.stats.get("tokens", {})
    for name, style in (("p5", ":"), ("p50", "--"), ("p95", ":")):
        if name in stats:
            ax.axvline(stats[name], color="#333333", linestyle=style, linewidth=1)
            ax.annotate(name, (stats[name], 1), xycoords=("data", "axes fraction"), ha="left", va="top", fontsize=8)
    limit = prep.stats.get("context")
    if limit and limit <= max(lengths) * 1.5:
        ax.axvline(limit, color="#c0392b", linewidth=1.5)
        ax.annotate("context", (limit, 0.9), xycoords=("data", "axes fraction"), color="#c0392b", fontsize=8)
    ax.set_xlabel("tokens per example (chat template included)")
    ax.set_ylabel("examples")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


_CSS = """body{font:15px/1.45 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}table{border-collapse:collapse}
td,th{padding:.25em .7em;border-bottom:1px solid #eee;text-align:right}td:first-child,th:first-child{text-align:left}
.finding{border-left:4px solid #4c78a8;padding:.3em .9em;margin:.8em 0;background:#f7f9fc}
.warning{border-color:#e0a100;background:#fffaf0}.error{border-color:#c0392b;background:#fff3f2}
.check{font-weight:600;font-family:monospace}.fix{color:#2d6a2d}.declined{color:#8a6d00}
.rows{font-family:monospace;font-size:.85em;word-break:break-all}img{max-width:100%}code{background:#eee;padding:0 .2em}"""


def _finding_html(finding: Finding) -> str:
    esc = html.escape
    parts = [f'<section class="finding {finding.severity}"><div><span class="check">{esc(finding.check)}</span> '
             f"<small>({finding.severity})</small></div><p>{esc(finding.message)}</p>"]
    if finding.fix is not None:
        cls = "fix" if finding.applied else "declined"
        parts.append(f'<p class="{cls}">{esc(fix_status(finding))}</p>')
    if finding.rows:
        shown = ", ".join(map(str, finding.rows[:MAX_ROWS_SHOWN]))
        more = f" … and {len(finding.rows) - MAX_ROWS_SHOWN} more" if len(finding.rows) > MAX_ROWS_SHOWN else ""
        parts.append(f"<details><summary>{len(finding.rows)} rows (line or row numbers in the input)</summary>"
                     f'<p class="rows">{shown}{more}</p></details>')
    if finding.samples:
        parts.append("<ul>" + "".join(f"<li><code>{esc(s)}</code></li>" for s in finding.samples) + "</ul>")
    parts.append("</section>")
    return "".join(parts)


def render_html(prep: Preparation, written: list[Path] | None = None) -> str:
    esc = html.escape
    kept = len(prep.train) + len(prep.valid)
    body = [f"<h1>Dataset report: {esc(prep.path.name)}</h1>",
            f"<p>{esc(prep.format.upper())} file, {esc(prep.shape)} format. {prep.n_read} rows read, {kept} examples "
            f"kept ({len(prep.train)} train, {len(prep.valid)} validation). Model: <code>{esc(prep.settings.model)}"
            "</code>.</p>"]
    if prep.blocking:
        body.append(f'<p class="finding error">Nothing was written: {esc(prep.blocking[0].message)}</p>')
    if prep.notices:
        body.append("<ul>" + "".join(f"<li>{esc(n)}</li>" for n in prep.notices) + "</ul>")
    png = histogram_png(prep)
    if png:
        body.append("<h2>Length histogram</h2>")
        body.append(f'<img alt="histogram of tokens per example" src="data:image/png;base64,'
                    f'{base64.b64encode(png).decode()}">')
    rows = [(STAT_NAMES[k], prep.stats[k]) for k in STAT_NAMES if prep.stats.get(k)]
    if rows:
        cols = ("min", "p5", "p50", "mean", "p95", "max")
        body.append("<table><tr><th>per example</th>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>")
        body += ["<tr><td>" + esc(name) + "</td>" + "".join(f"<td>{s[c]:.1f}</td>" if c == "mean" else
                                                             f"<td>{s[c]:.0f}</td>" for c in cols) + "</tr>"
                 for name, s in rows]
        body.append("</table>")
    body.append(f"<h2>Findings ({len(prep.findings)})</h2>")
    body += [_finding_html(f) for f in prep.findings]
    if written:
        body.append("<h2>Files written</h2><ul>" + "".join(f"<li><code>{esc(str(p))}</code></li>" for p in written)
                    + "</ul>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>selfclone prepare: '
            f"{esc(prep.path.name)}</title><style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")


def write_html(prep: Preparation, path: Path, written: list[Path] | None = None) -> Path:
    write_text(path, render_html(prep, written))
    return path
