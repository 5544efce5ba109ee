"""Fixtures of the importer tests: the fixture exports, and a real import into a fresh SQLite store."""
from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def imported(tmp_path):
    """imported(fmt, *paths, me=(), pii_off=(), **options) -> (report, examples as dicts, store).

    Runs the real pipeline (importer, owner, store with dedupe, pairs, privacy) into a SQLite store that
    lives for the test; call it twice on the same store with `store=`.
    """
    from selfclone.collect.importers import BUILTIN
    from selfclone.collect.ingest import ImportJob, ingest
    from selfclone.collect.owner import Owner
    from selfclone.config import CollectSettings
    from selfclone.store import Store

    stores = []

    def run(fmt, *paths, me=(), pii_off=(), settings=None, store=None, **options):
        cls = next(c for c in BUILTIN if c.name == fmt)
        if store is None:
            store = Store(tmp_path / f"store{len(stores)}.db")
            stores.append(store)
        jobs = [ImportJob(cls(), Path(p), cls.Options(**options)) for p in paths]
        report = ingest(store, jobs, settings or CollectSettings(), Owner(me), pii_off=pii_off)
        examples = [{"messages": json.loads(text)} for (text,) in
                    store.db.execute("select messages_json from examples order by id")]
        return report, examples, store

    yield run
    for store in stores:
        store.close()
