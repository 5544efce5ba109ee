"""`selfclone models delete NAME`: asks first unless --yes, refuses base models, removes the run directory."""
import json

from selfclone.cli import main


def test_models_delete_asks_then_deletes(tmp_path, capsys, monkeypatch, ws):
    run = ws.runs_dir / "20261201-000000-beef"
    (run / "adapter").mkdir(parents=True)
    name = "ft:smollm2-135m:ana:20261201-000000-beef"
    (run / "run.json").write_text(json.dumps({"name": name, "base_model": "smollm2-135m", "status": "finished"}))
    monkeypatch.chdir(ws.root)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("n\n"))
    assert main(["models", "delete", name]) == 0 and run.exists()
    assert main(["models", "delete", "smollm2-135m", "--yes"]) == 2
    assert "not a clone" in " ".join(capsys.readouterr().err.split())
    assert main(["models", "delete", name, "--yes"]) == 0 and not run.exists()
    assert main(["models", "--json"]) == 0
    capsys.readouterr()
    assert main(["models", "delete", name, "--yes"]) == 3          # gone: unknown clone
