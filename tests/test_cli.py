"""The CLI turns library errors into one clear message (file, line, fix) and an exit code, in-process."""
import json

import pytest




def test_train_on_a_malformed_line_names_file_and_line(cli, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                             {"role": "assistant", "content": "yo"}]}) + "\n{broken\n")
    code, _, err = cli("train", str(data))
    assert code == 2
    assert f"{data}, line 2" in err and "not valid JSON" in err and "hint:" in err


def test_train_row_without_assistant_turn(cli, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    code, _, err = cli("train", str(data))
    assert code == 2 and "line 1" in err and "no assistant turn" in err


def test_empty_file_and_missing_file(cli, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.jsonl").write_text("")
    code, _, err = cli("train", str(tmp_path / "empty.jsonl"))
    assert code == 2 and "no examples" in err
    code, _, err = cli("train", str(tmp_path / "nope.jsonl"))
    assert code == 2 and "file not found" in err


def test_unknown_model_lists_what_exists(cli, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("ask", "no-such-model", "hi")
    assert code == 3 and "unknown model 'no-such-model'" in err and "smollm2-135m" in err
    code, _, err = cli("ask", "ft:smollm2-135m:x:nope", "hi")
    assert code == 3 and "no clone named" in err and "selfclone models" in err


def test_hub_id_offline_says_how_to_get_it(cli, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = cli("ask", "HuggingFaceTB/SmolLM2-360M-Instruct", "hi")
    assert code == 3 and "offline" in err and "HF_HUB_OFFLINE=0" in err


def test_bad_generation_option_is_rejected(cli, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("ask", "smollm2-135m", "hi", "--presence-penalty", "5")
    assert code == 2 and "presence_penalty must be in [-2, 2]" in err


def test_init_then_models_lists_embedded_and_clones(cli, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SELFCLONE_HOME", str(tmp_path / "home"))    # a clone index of its own: other tests add clones
    monkeypatch.chdir(tmp_path)
    assert cli("init", "ws", "--person", "Ana")[0] == 0
    monkeypatch.chdir(tmp_path / "ws")
    code, out, _ = cli("models", "--json")
    listing = json.loads(out)
    assert code == 0 and listing["base_models"][0]["name"] == "smollm2-135m" and listing["clones"] == []


@pytest.mark.slow
def test_ask_json_prints_n_candidates(cli, tmp_path, capsys, monkeypatch, tiny_model_dir):
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli("ask", str(tiny_model_dir), "hi", "--n", "3", "--json", "--seed", "1",
                       "--max-tokens", "5", "--temperature", "1")
    reply = json.loads(out)
    assert code == 0 and len(reply["candidates"]) == 3 and reply["messages"][-1] == {"role": "user", "content": "hi"}


def test_an_error_message_is_printed_as_text_not_markup():
    """A message that quotes a library's '[/...]' (gloo's errors do) is shown as written, not parsed as markup."""
    from selfclone.cli import _report
    from selfclone.terminal import err_console

    with err_console.capture() as captured:
        assert _report("rank 1 lost: [/tmp/x] closed [bold]", "see [/docs]", 3) == 3
    assert "rank 1 lost: [/tmp/x] closed [bold]" in captured.get() and "see [/docs]" in captured.get()


def test_the_cli_sets_a_short_openmp_spin_unless_the_user_chose(tmp_path):
    """PASSIVE waiting made llama.cpp 3x slower at batching; a short spin is set before torch or llama.cpp load."""
    import os
    import subprocess
    import sys

    code = "import os, selfclone.cli; print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    run = lambda extra: subprocess.run([sys.executable, "-c", code], env=env | extra, capture_output=True,  # noqa: E731
                                       text=True, check=True).stdout.split()
    assert run({}) == ["5000", "None"]
    assert run({"OMP_WAIT_POLICY": "PASSIVE"}) == ["None", "PASSIVE"]
    assert run({"GOMP_SPINCOUNT": "100"}) == ["100", "None"]
