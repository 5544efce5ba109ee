"""Markdown and text folders (blog posts, notes, essays) -> examples: the title as the prompt, the text as
the reply.

    selfclone import markdown ~/blog/content/posts/

The prompt is the front matter's `prompt` or `title` (YAML `---` or TOML `+++`, via python-frontmatter),
else the first heading, else the file name ("my-first-post.md" -> "my first post"). Posts longer than
`split_chars` are split at their `##` (or deeper) headings: each section becomes an example whose prompt
is "Title: Section". Images, HTML comments and front matter are removed; the rest of the markdown is
kept as written. Files shorter than `min_chars` are skipped.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pydantic

from ...dataset.chat import Example
from ...errors import DataError
from .textfile import decode_error, head_text

SUFFIXES = (".md", ".markdown", ".mdx", ".txt")
_ASSETS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".css", ".yml", ".yaml", ".toml", ".html")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


class MarkdownImporter:
    name = "markdown"
    title = "Markdown or text files (blog posts, notes), one file or a folder"
    produces = "examples"
    marks_owner = True

    class Options(pydantic.BaseModel):
        split_chars: int = pydantic.Field(2000, ge=200)
        min_chars: int = pydantic.Field(20, ge=1)
        encoding: str = "utf-8"

    def detect(self, path: Path) -> bool:
        path = Path(path)
        if path.is_dir():        # a folder of posts (and their images), not a folder of mixed exports
            files = _files(path, "*")
            return any(f.suffix.lower() in (".md", ".markdown", ".mdx") for f in files) and all(
                f.suffix.lower() in SUFFIXES + _ASSETS for f in files)
        if not path.is_file() or path.suffix.lower() not in SUFFIXES:
            return False
        head = head_text(path, 4096)
        return bool(head.strip()) and "\x00" not in head

    def read(self, path: Path, options: Options) -> Iterator[Example]:
        path = Path(path)
        files = [path] if path.is_file() else [f for f in _files(path, "*") if f.suffix.lower() in SUFFIXES]
        count = 0
        for file in files:
            for example in _file_examples(file, path if path.is_dir() else file.parent, options):
                count += 1
                yield example
        if count == 0:
            raise DataError(f"no text found (looked for {', '.join(SUFFIXES)} files of at least "
                            f"{options.min_chars} characters)", "pass a file or a folder of posts", path=path)


def _files(folder: Path, pattern: str) -> list[Path]:
    """Files under `folder`, hidden ones (and those in hidden folders) left out."""
    return sorted(f for f in folder.rglob(pattern) if f.is_file()
                  and not any(part.startswith(".") for part in f.relative_to(folder).parts))


def _file_examples(file: Path, root: Path, options) -> Iterator[Example]:
    import frontmatter

    try:
        raw = file.read_text(encoding=options.encoding)
    except UnicodeDecodeError as exc:
        raise decode_error(file, exc) from exc
    try:
        post = frontmatter.loads(raw)
        meta, body = post.metadata, post.content
    except Exception as exc:  # python-frontmatter raises the YAML or TOML parser's own errors
        raise DataError(f"the front matter cannot be read ({type(exc).__name__}: {exc})",
                        "fix the block between the --- lines at the top", path=file, line=1) from exc
    body = _COMMENT.sub("", _IMAGE.sub("", body)).strip()
    title = str(meta.get("prompt") or meta.get("title") or "").strip()
    heading = _HEADING.search(body)
    if not title and heading and heading.start() == 0:
        title = heading.group(2).strip()
        body = body[heading.end():].strip()
    if not title:
        title = re.sub(r"^\d{4}-\d{2}-\d{2}-", "", file.stem).replace("-", " ").replace("_", " ").strip()
    chat = str(file.relative_to(root))
    for prompt, text in _sections(title, body, options.split_chars):
        if len(text) >= options.min_chars:
            pair = Example.chat(("user", prompt), ("assistant", text))
            yield Example(pair.messages, {"source": "markdown", "chat": chat, "path": str(file)})


def _sections(title: str, body: str, split_chars: int) -> Iterator[tuple[str, str]]:
    if len(body) <= split_chars:
        yield title, body
        return
    headings = [m for m in _HEADING.finditer(body) if len(m.group(1)) >= 2]
    if not headings:
        yield title, body
        return
    intro = body[:headings[0].start()].strip()
    if intro:
        yield title, intro
    for m, following in zip(headings, headings[1:] + [None]):
        end = following.start() if following else len(body)
        yield f"{title}: {m.group(2).strip()}", body[m.end():end].strip()

