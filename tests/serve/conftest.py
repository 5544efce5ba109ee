"""A real uvicorn server on 127.0.0.1 and a free port, in a thread, for the API tests."""
from __future__ import annotations

import contextlib

import pytest

from selfclone.serve.background import background_server


@contextlib.contextmanager
def running(app):
    with background_server(app) as url:
        yield url + "/v1"


@pytest.fixture(scope="session")
def serve_app():
    """`with serve_app(app) as base_url:` runs `app` on a real server until the block ends."""
    return running
