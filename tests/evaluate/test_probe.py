"""Preference probes: the shipped bank, bad banks, the person's picks through a terminal, the clone's picks,
agreement against chance.

    /work/main/.venv/bin/pytest -q tests/evaluate/test_probe.py
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest

from selfclone.cli import main
from selfclone.errors import DataError
from selfclone.evaluate import probe as probe_mod
from selfclone.evaluate.judgements import Estimate, Judgements

SELFCLONE = str(Path(sys.executable).with_name("selfclone"))
ENV = dict(os.environ, COLUMNS="200", OMP_NUM_THREADS="1")

SMALL = """
[[probe]]
id = "drink"
question = "Tea or coffee?"
options = ["tea", "coffee"]

[[probe]]
id = "season"
question = "Which season?"
options = ["spring", "summer", "autumn", "winter"]
"""


def test_the_shipped_bank_is_valid_and_varied():
    probes = probe_mod.load_probes()
    assert len(probes) >= 15 and len({p.id for p in probes}) == len(probes)
    assert all(len(p.options) >= 2 for p in probes)
    assert probes[0].prompt("You are Maggie.") == [
        {"role": "system", "content": "You are Maggie."},
        {"role": "user", "content": "Which film would you rather watch tonight? Casablanca, The Matrix, Toy Story or "
                                    "The Godfather?"}]


@pytest.mark.parametrize("text, words", [
    ('[[probe]]\nid = "a"\nquestion = "q?"\noptions = ["only one"]\n', "probe[0] (a) needs `options`"),
    ('[[probe]]\nid = "a"\nquestion = "q?"\noptions = ["x", "y"]\n[[probe]]\nid = "a"\nquestion = "r?"\noptions = ["x", "y"]\n',
     "the id 'a' is used twice"),
    ('[[probe]]\nquestion = "q?"\noptions = ["x", "y"]\n', "probe[0] needs an `id` and a `question`"),
    ("title = 'no probes'\n", "the file has no probes"),
    ("[[probe]\n", "not valid TOML"),
])
def test_bad_probe_banks_are_named(tmp_path, text, words):
    path = tmp_path / "bank.toml"
    path.write_text(text)
    with pytest.raises(DataError, match="bank.toml") as exc:
        probe_mod.load_probes(path)
    assert words in str(exc.value)


def test_agreement_counts_matches_against_chance():
    probes = probe_mod.load_probes()[:3]
    person = {probes[0].id: probes[0].options[0], probes[1].id: probes[1].options[1], probes[2].id: None}
    clone = {probes[0].id: probes[0].options[0], probes[1].id: probes[1].options[0], probes[2].id: "x"}
    result = probe_mod.agreement(person, clone, probes)
    assert result["agreement"] == Estimate(1, 2)                     # the skipped probe is not compared
    assert result["chance"] == pytest.approx((1 / len(probes[0].options) + 1 / len(probes[1].options)) / 2)


def test_clone_picks_by_likelihood_are_saved_and_resume(ws, tiny_backend, tmp_path):
    bank = tmp_path / "bank.toml"
    bank.write_text(SMALL)
    probes = probe_mod.load_probes(bank)
    with ws.store() as store:
        picks = probe_mod.clone_picks(store, tiny_backend, "tiny", probes, system="You are Maggie.")
        assert set(picks) == {"drink", "season"}
        saved = Judgements(store, "probe", "model:tiny").items()
        for p in probes:
            item = saved[p.id]
            assert item["method"] == "likelihood" and set(item["scores"]) == set(p.options)
            assert item["pick"] == max(item["scores"], key=item["scores"].get)
        again = probe_mod.choose(tiny_backend, probes[1], "You are Maggie.")
        assert again["scores"] == pytest.approx(saved["season"]["scores"])       # deterministic
        Judgements(store, "probe", "model:tiny").put("drink", saved["drink"] | {"pick": "kept"})
        assert probe_mod.clone_picks(store, tiny_backend, "tiny", probes)["drink"] == "kept"   # not redone


def test_a_remote_backend_picks_the_first_option_its_reply_names():
    class Replying:
        name = "replying"

        def chat(self, messages, options):
            yield "coffee"

        def candidates(self, messages, options):
            return ["Honestly? Coffee, then tea later."] * options.n

    probe = probe_mod.Probe("drink", "Tea or coffee?", ("tea", "coffee"))
    assert probe_mod.choose(Replying(), probe)["pick"] == "coffee"


def test_probe_command_needs_recorded_picks_first(ws, tiny_model_dir, monkeypatch, capsys):
    monkeypatch.chdir(ws.root)
    assert main(["probe", str(tiny_model_dir)]) == 2
    assert "no picks of yours are recorded yet" in " ".join(capsys.readouterr().err.split())


@pytest.mark.slow
def test_record_through_a_terminal_then_compare_a_clone(ws, tiny_model_dir, tmp_path):
    bank = tmp_path / "bank.toml"
    bank.write_text(SMALL)
    child = pexpect.spawn(SELFCLONE, ["probe", "--record", "--probes", str(bank)], cwd=str(ws.root), env=ENV,
                          encoding="utf-8", dimensions=(50, 200), timeout=120)
    child.expect("Tea or coffee")
    child.expect("your pick: ")
    child.sendline("7")
    child.expect("type one of")
    child.sendline("2")
    child.expect("Which season")
    child.expect("your pick: ")
    child.sendline("q")                          # stop: the first pick is already saved
    child.expect(pexpect.EOF)
    with ws.store() as store:
        assert probe_mod.person_picks(store) == {"drink": "coffee"}
    child = pexpect.spawn(SELFCLONE, ["probe", str(tiny_model_dir), "--record", "--probes", str(bank)],
                          cwd=str(ws.root), env=ENV, encoding="utf-8", dimensions=(50, 200), timeout=120)
    child.expect("Which season")                 # resumes at the probe not answered yet
    child.expect("your pick: ")
    child.sendline("3")
    child.expect(r"agreement:.*?(\d)/2.*chance: (\d+)%")
    assert child.match.group(2) == "38"           # mean of 1/2 and 1/4
    child.expect(pexpect.EOF)
    with ws.store() as store:
        assert probe_mod.person_picks(store) == {"drink": "coffee", "season": "autumn"}
        assert set(Judgements(store, "probe", f"model:{tiny_model_dir}").items()) == {"drink", "season"}
