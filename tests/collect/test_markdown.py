"""Markdown and text folders: front matter or heading as the prompt, long posts split by section."""
from __future__ import annotations

from golden import FIXTURES

from selfclone.collect.importers.markdown import MarkdownImporter

MD = FIXTURES / "markdown"


# (file, prompt, how the reply starts); short.md is under min_chars and skipped
EXPECTED = [
    ("blog/posts/2023-12-03-why-i-walk.md", "Why I walk to work", "Every morning I walk the forty minutes"),
    ("blog/posts/2024-05-01-coast.md", "Hiking the coast", "This is how we walked the coast in five days."),
    ("blog/posts/2024-05-01-coast.md", "Hiking the coast: Packing", "A paragraph about the pack of the trip"),
    ("blog/posts/2024-05-01-coast.md", "Hiking the coast: The route", "A paragraph about the route of the trip"),
    ("blog/posts/2024-05-01-coast.md", "Hiking the coast: Food", "A paragraph about the food of the trip"),
    ("notes/tea.md", "On tea", "Green tea in the morning, black tea after lunch"),
    ("notes/untitled-thoughts.txt", "untitled thoughts", "Sometimes the best ideas come while doing the dishes."),
]


def test_folder_examples():
    examples = list(MarkdownImporter().read(MD, MarkdownImporter.Options()))
    got = [(e.meta["chat"], e.messages[0].content, e.messages[1].content) for e in examples]
    assert [(chat, prompt) for chat, prompt, _ in got] == [(chat, prompt) for chat, prompt, _ in EXPECTED]
    assert all(reply.startswith(start) for (_, _, reply), (_, _, start) in zip(got, EXPECTED))


def test_post_text_cleaned():
    examples = list(MarkdownImporter().read(MD, MarkdownImporter.Options()))
    assert len(examples) == len(EXPECTED)
    walk = examples[0].messages[1].content
    assert walk == ("Every morning I walk the forty minutes to the office. It started as a way to save money and "
                    "became the best part of my day.")          # image and HTML comment removed
    assert [t.role for t in examples[0].messages] == ["user", "assistant"]


def test_no_split_when_allowed_long():
    examples = list(MarkdownImporter().read(MD / "blog", MarkdownImporter.Options(split_chars=100_000)))
    assert [e.messages[0].content for e in examples] == ["Why I walk to work", "Hiking the coast"]
    assert "## Packing" in examples[1].messages[1].content


def test_store_examples_dedupe(imported):
    report, examples, store = imported("markdown", MD / "notes")
    assert len(examples) == 2 and report.examples_added == 2
    again, _, _ = imported("markdown", MD / "notes", store=store)
    assert (again.examples, again.examples_added) == (2, 0)


def test_detect():
    assert MarkdownImporter().detect(MD) and MarkdownImporter().detect(MD / "notes" / "tea.md")
    assert not MarkdownImporter().detect(FIXTURES / "tabular" / "qa.csv")
