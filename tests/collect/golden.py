"""Shared by the importer tests: where the fixture exports are, and messages as comparable tuples."""
from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def rows(messages) -> list[tuple]:
    """Messages as comparable tuples: (sender, sent_at ISO, is_me, kind, text)."""
    return [(m.sender, m.sent_at.isoformat() if m.sent_at else None, m.is_me, m.kind, m.text) for m in messages]
