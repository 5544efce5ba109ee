"""`selfclone eval`: every metric for several models, stable JSON keys, the HTML report, and bad input.

    /work/main/.venv/bin/pytest -q tests/evaluate/test_compare_report.py
"""
from __future__ import annotations

import base64
import json
import math
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from selfclone.config import GenerationOptions
from selfclone.cli import main
from selfclone.dataset.chat import Example, write_examples
from selfclone.evaluate.baselines import ModeBackend, PersonaPrompt
from selfclone.evaluate.compare import Entrant, compare
from selfclone.evaluate.report import write_report

STABLE_KEYS = {"heldout_loss", "perplexity", "attribution_rate", "similarity", "style_distance"}


class ReportParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self.images, self._row, self._cell, self.title = [], [], None, None, ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr":
            self.tables[-1].append(self._row)
            self._row = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._in_title:
            self.title += data


@pytest.fixture(scope="module")
def comparison(tiny_backend, demo_train, demo_heldout):
    heldout = demo_heldout[:5] + [Example.chat(("user", "is <b>this</b> bold?"), ("assistant", "no <script>x</script>"),
                                               system="You are Maggie.")]
    entrants = [Entrant("tiny", tiny_backend), Entrant("tiny+persona", ModeBackend(tiny_backend, PersonaPrompt("P")))]
    return compare(entrants, heldout, demo_train, GenerationOptions(max_tokens=6, seed=0), batch_size=4,
                   reference=tiny_backend, reference_prompts=6)


@pytest.mark.slow
def test_compare_scores_every_model_with_every_metric(comparison):
    out = comparison.to_dict()
    assert list(out["models"]) == ["tiny", "tiny+persona"]
    for name, metrics in out["models"].items():
        assert STABLE_KEYS <= set(metrics)
        assert all(isinstance(metrics[k], float) and math.isfinite(metrics[k]) for k in STABLE_KEYS)
        assert metrics["perplexity"] == pytest.approx(math.exp(metrics["heldout_loss"]))
        assert 0 <= metrics["attribution_rate"] <= 1 and 0 <= metrics["style_distance"] <= 1
        assert -1 <= metrics["similarity"] <= 1
    # a random tiny model writes nothing like Maggie; her own held-out replies are the ceiling
    assert out["attribution_ceiling"] > 0.5
    assert all(m["attribution_rate"] < out["attribution_ceiling"] for m in out["models"].values())
    # the persona prompt changes what the model is asked, so its loss differs from the bare model's
    assert out["models"]["tiny"]["heldout_loss"] != out["models"]["tiny+persona"]["heldout_loss"]
    assert out["info"]["assistant_reference"] > 6
    assert len(comparison.results[0].replies) == 6


@pytest.mark.slow
def test_the_html_report_renders_with_table_plots_and_samples(comparison, tmp_path):
    path = write_report(tmp_path / "report.html", comparison, "Maggie <test>", samples=4)
    text = path.read_text()
    parser = ReportParser()
    parser.feed(text)
    assert parser.title == "Maggie <test>"
    metrics, samples = parser.tables
    assert metrics[0][1:] == ["held-out loss ↓", "perplexity ↓", "attribution ↑", "similarity ↑", "style distance ↓"]
    assert [row[0] for row in metrics[1:]] == ["tiny", "tiny+persona", "real held-out replies"]
    assert len(samples) == 1 + 4 and samples[0][:2] == ["conversation", "real reply"]
    assert len(parser.images) == 3
    for src in parser.images:
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http" not in text.replace("http-equiv", "")              # self-contained: nothing to fetch
    last = write_report(tmp_path / "all.html", comparison, samples=10).read_text()
    assert "&lt;script&gt;" in last and "<script>" not in last       # replies are escaped


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")), reason="no chromium")
def test_the_report_renders_in_a_headless_browser(comparison, tmp_path):
    path = write_report(tmp_path / "report.html", comparison)
    shot = tmp_path / "shot.png"
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1200,1600", path.as_uri()], check=True, capture_output=True, timeout=120)
    assert shot.stat().st_size > 20_000


@pytest.mark.slow
def test_eval_json_has_stable_keys_per_model(tiny_model_dir, demo_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    tiny = str(tiny_model_dir)
    code = main(["eval", tiny, "--heldout", str(demo_dir / "heldout.jsonl"), "--train", str(demo_dir / "train.jsonl"),
                 "--json", "--baselines", "base,persona,fewshot", "--base", tiny, "--persona", "You are Maggie, 58.",
                 "--limit", "3", "--max-tokens", "4", "--reference", "0", "--report", "r.html"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["models"]) == [tiny, f"{tiny}+persona", f"{tiny}+fewshot"]   # base == MODEL: not twice
    assert all(set(m) == STABLE_KEYS | {"style"} for m in out["models"].values())
    assert out["examples"] == 3 and (tmp_path / "r.html").exists()


def _write(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_bad_input_gives_clear_errors(tiny_model_dir, demo_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    def error() -> str:                  # the message as one line (the terminal may wrap it)
        return " ".join(capsys.readouterr().err.split())

    no_reply = _write(tmp_path / "questions.jsonl", [{"messages": [{"role": "user", "content": "hi?"}]}])
    assert main(["eval", str(tiny_model_dir), "--heldout", str(no_reply), "--baselines", "none"]) == 2
    err = error()
    assert "questions.jsonl, line 1" in err and "no assistant turn" in err

    assert main(["eval", "no-such-model", "--heldout", str(demo_dir / "heldout.jsonl")]) == 3
    assert "unknown model 'no-such-model'" in error()

    assert main(["eval", "--heldout", str(demo_dir / "heldout.jsonl"), "--baselines", "none"]) == 2
    assert "nothing to evaluate" in error()

    assert main(["eval", str(tiny_model_dir), "--heldout", str(demo_dir / "heldout.jsonl"), "--baselines",
                 "base,telepathy"]) == 2
    assert "unknown baseline(s) telepathy" in error()

    assert main(["eval", str(tiny_model_dir), "--heldout", str(demo_dir / "heldout.jsonl"), "--baselines",
                 "fewshot", "--base", str(tiny_model_dir)]) == 2
    assert "need the person's training examples" in error()

    missing = tmp_path / "nope.jsonl"
    assert main(["eval", str(tiny_model_dir), "--heldout", str(missing), "--baselines", "none"]) == 2
    assert "nope.jsonl: file not found" in error()


def test_an_empty_real_reply_is_named(tmp_path):
    from selfclone.errors import DataError
    from selfclone.evaluate.compare import check_heldout

    path = tmp_path / "h.jsonl"
    write_examples(path, [Example.chat(("user", "hi"), ("assistant", " "))])
    from selfclone.dataset.chat import read_examples

    with pytest.raises(DataError, match=r"h.jsonl, line 1: the last assistant turn .* is empty"):
        check_heldout(read_examples(path))


@pytest.mark.slow
def test_default_baselines_skip_what_has_no_input(tiny_model_dir, demo_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)                  # no workspace: no description of the person, no training data
    tiny = str(tiny_model_dir)
    assert main(["eval", tiny, "--heldout", str(demo_dir / "heldout.jsonl"), "--base", tiny, "--json",
                 "--limit", "2", "--max-tokens", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["models"]) == [tiny]
    assert out["models"][tiny]["attribution_rate"] is None and out["attribution_ceiling"] is None
    assert out["models"][tiny]["heldout_loss"] > 0
