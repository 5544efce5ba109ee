"""`selfclone jobs` in-process: create prints the id, worker --once trains it (tiny model), show --json, follow,
cancel of a finished job is a clear error."""
import json

from selfclone.cli import main


def test_jobs_cli_create_work_show_follow(ws, tiny_model_dir, capsys, monkeypatch):
    data = ws.data_dir / "me.jsonl"
    data.write_text("\n".join(json.dumps({"messages": [{"role": "user", "content": f"q {i}?"},
                                                       {"role": "assistant", "content": f"a {i}."}]})
                              for i in range(8)) + "\n")
    monkeypatch.chdir(ws.root)
    assert main(["jobs", "create", str(data), "--model", str(tiny_model_dir), "--suffix", "ana", "--epochs", "1"]) == 0
    job_id = capsys.readouterr().out.strip().splitlines()[-1]
    assert job_id.startswith("ftjob-")
    assert main(["jobs", "worker", "--once"]) == 0
    capsys.readouterr()
    assert main(["jobs", "show", job_id, "--json"]) == 0
    job = json.loads(capsys.readouterr().out)
    assert job["status"] == "succeeded" and job["fine_tuned_model"].startswith("ft:")
    assert main(["jobs", "follow", job_id]) == 0
    out = capsys.readouterr().out
    assert "training started" in out and f"{job_id}: succeeded" in out
    assert main(["jobs", "cancel", job_id]) == 2
    assert "it is succeeded" in " ".join(capsys.readouterr().err.split())
    assert main(["jobs", "list"]) == 0 and "succeeded" in capsys.readouterr().out
