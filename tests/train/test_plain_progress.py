"""`selfclone train` with its output in a file or pipe (CI logs, nohup): plain progress lines, at least every 30 s."""
import json

from selfclone.cli import main
from selfclone.train.display import PlainLines


class Recorder:
    def __init__(self):
        self.seen = []

    def on_start(self, *a):
        self.seen.append("start")

    def on_step(self, row):
        self.seen.append(row["step"])

    def on_eval(self, row):
        self.seen.append("eval")


def test_a_line_at_least_every_30_seconds(capsys):
    now = [0.0]
    events = PlainLines(Recorder(), every=30, clock=lambda: now[0])
    events.on_start(10, 0, {"name": "ft:x:y:z"})
    for step in range(1, 11):
        now[0] += 12                                   # a step every 12 s: lines at steps 1, 4, 7 and 10
        events.on_step({"step": step, "train_loss": 1.0 / step})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "training ft:x:y:z: step 0/10"
    assert [line.split()[1] for line in lines[1:]] == ["1/10", "4/10", "7/10", "10/10"]
    assert events.inner.seen == ["start", *range(1, 11)]   # the bar's events still get every step


def test_train_without_a_terminal_prints_plain_lines(tmp_path, tiny_model_dir, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}?"},
                                                       {"role": "assistant", "content": "aye."}]})
                              for i in range(8)) + "\n")
    code = main(["train", str(data), "--model", str(tiny_model_dir), "--max-steps", "2", "--batch-size", "4",
                 "--report-to", "none", "--precision", "fp32", "--out", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "step 0/2" in out and "step 2/2  train_loss" in out
