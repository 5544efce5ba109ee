"""A real uvicorn server on 127.0.0.1 and a free port, in a thread, for the API tests; headless Chromium (Debian's
`chromium`, through Playwright) for the web app's tests."""
from __future__ import annotations

import contextlib
import shutil

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


@pytest.fixture
def browser():
    """A headless Chromium; the test is skipped where chromium is not installed (`apt-get install chromium`)."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("apt-get install chromium (CI does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def api_process():
    """`server, client = api_process(ws)`: `selfclone serve api` as a real process (its own process group, so a test
    can kill the server and its job worker together) and an official `openai` client once it answers."""
    import subprocess
    import sys
    import time

    import openai

    from selfclone.serve.background import free_port

    def start(ws):
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "selfclone", "serve", "api", "--port", str(port)],
                                  cwd=ws.root, start_new_session=True)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0)
        for _ in range(600):
            try:
                client.models.list()
                return server, client
            except openai.APIConnectionError:
                time.sleep(0.2)
        server.kill()
        raise RuntimeError("`selfclone serve api` did not start")

    return start
