"""`selfclone bench prepare` on a small generated set: the figures it prints are measured and consistent."""
from __future__ import annotations

import json

from selfclone.cli import main
from selfclone.bench import prepare as prepare_bench


def test_generated_examples_carry_duplicates():
    rows = prepare_bench.generate(500, seed=1)
    assert len(rows) == 500 and rows == prepare_bench.generate(500, seed=1)
    keys = [str(r["messages"]) for r in rows]
    assert 0 < len(keys) - len(set(keys)) < 30                         # about 2% exact copies


def test_bench_prepare_quick_run(capsys):
    assert main(["bench", "prepare", "--examples", "600", "--sizes", "150,300"]) == 0
    out = capsys.readouterr().out
    assert "prepare on 600 chat examples" in out and "peak RSS" in out and "cores" in out
    assert "LSH recall" in out and "faster" in out
    assert "command: selfclone bench prepare --examples 600 --sizes 150,300" in out
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["examples"] == 600 and [p["n"] for p in figures["points"]] == [150, 300]


def test_bench_result_scaling():
    result = prepare_bench.run(examples=400, sizes=(100, 200, 400))
    assert [p.n for p in result.points] == [100, 200, 400]
    assert result.kept < 400 and result.groups > 0                     # duplicates were found and removed
    assert all(p.lsh_found <= p.exact_pairs for p in result.points)
    assert result.extrapolated_pairwise_s == result.points[-1].pairwise_s
    assert result.rss_peak_mb >= result.rss_before_mb > 0
