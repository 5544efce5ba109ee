"""The frame every page of the web app shares: the sidebar with the page list (filled by /static/site.js from
/web/pages) and one stylesheet, so a plugin's page looks like the chat page. Areas above serve (refine, evaluate)
build their pages with it too.

    html = page("Rank", "<h2>Rank the candidates</h2>...", script=RANK_JS)
"""
from __future__ import annotations

import html


def page(title: str, main: str, *, script: str = "", scripts: tuple[str, ...] = ()) -> str:
    """A whole HTML page: the shared sidebar, `main` as the content, then site.js, `scripts` (URLs) and `script`."""
    sources = "".join(f'<script src="{src}"></script>' for src in ("/static/site.js", *scripts))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>selfclone: {html.escape(title)}</title><link rel="stylesheet" href="/static/style.css"></head>
<body><aside><h1>selfclone</h1><nav id="pages" aria-label="Pages"></nav></aside>
<main class="page"><h2 class="title">{html.escape(title)}</h2>
{main}
<p id="error" class="error" role="alert"></p></main>
{sources}{f"<script>{script}</script>" if script else ""}</body></html>"""
