"""`selfclone serve api` refuses an open bind without a key and a taken port before loading anything; [serve] parses."""
import socket

import pytest

from selfclone import config
from selfclone.cli import main
from selfclone.errors import ConfigError


def test_serve_api_refuses_open_bind_and_taken_port(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SELFCLONE_API_KEY", raising=False)
    assert main(["serve", "api", "--host", "0.0.0.0"]) == 2
    assert "without an API key" in " ".join(capsys.readouterr().err.split())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "api", "--port", str(port)]) == 2
        assert f"another server is using port {port}" in " ".join(capsys.readouterr().err.split())


def test_serve_section(tmp_path):
    path = tmp_path / "selfclone.toml"
    path.write_text("[serve]\nmax_models = 3\nmax_memory_gb = 2.5\n")
    assert config.load(path).serve == config.ServeSettings(max_models=3, max_memory_gb=2.5)
    path.write_text("[serve]\nmax_models = 0\n")
    with pytest.raises(ConfigError, match="serve.max_models"):
        config.load(path)
