"""Persona presets: V2/V3 character cards (JSON and PNG) round-trip through the store and `--persona` on ask."""
from __future__ import annotations

import base64
import json

import pytest

from selfclone.errors import DataError
from selfclone.persona.cards import _blank_png, _chunk, read_card
from selfclone.persona.presets import get_preset

V2 = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {
    "name": "Captain Hale", "description": "{{char}} is a gruff sea captain.", "personality": "terse, kind",
    "scenario": "", "first_mes": "Aye?", "mes_example": "", "creator_notes": "", "system_prompt": "",
    "post_history_instructions": "", "alternate_greetings": [], "tags": ["sea"], "creator": "someone",
    "character_version": "1", "extensions": {"depth_prompt": {"depth": 4}}}}



def test_a_v2_json_card_round_trips_and_speaks_through_ask(cli, ws, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ws.root)
    path = tmp_path / "hale.json"
    path.write_text(json.dumps(V2))
    assert cli("persona", "add", "hale", "--from", str(path))[0] == 0
    code, out, _ = cli("persona", "list")
    assert "hale" in out and "1 personas" in out
    assert cli("persona", "export", "hale", "-o", str(tmp_path / "out.json"))[0] == 0
    assert json.loads((tmp_path / "out.json").read_text()) == V2
    code, out, _ = cli("ask", "echo", "ahoy", "--json", "--backend", "echo", "--persona", "hale")
    system = json.loads(out)["messages"][0]["content"]
    assert system == "You are Captain Hale. Captain Hale is a gruff sea captain. terse, kind"
    code, _, err = cli("ask", "echo", "ahoy", "--backend", "echo", "--persona", "nobody")
    assert code == 2 and "no persona named 'nobody'" in err and "known: hale" in err
    assert cli("persona", "remove", "hale")[0] == 0
    assert "0 personas" in cli("persona", "list")[1]


def test_a_v3_png_card_round_trips(cli, ws, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ws.root)
    v3 = {"spec": "chara_card_v3", "spec_version": "3.0",
          "data": dict(V2["data"], name="Seraphina", group_only_greetings=[], assets=[], nickname="Sera")}
    png = tmp_path / "sera.png"
    blob = _blank_png() + _chunk(b"tEXt", b"ccv3\0" + base64.b64encode(json.dumps(v3).encode())) + _chunk(b"IEND", b"")
    png.write_bytes(blob)
    assert cli("persona", "add", "sera", "--from", str(png))[0] == 0
    with ws.store() as store:
        assert get_preset(store, "sera").to_json() == v3
    out = tmp_path / "again.png"
    assert cli("persona", "export", "sera", "-o", str(out))[0] == 0
    card = read_card(out)
    assert card.to_json() == v3 and card.spec == "chara_card_v3"
    # the export carries a V2 chunk as well, for readers of the older format
    assert b"tEXtchara\0" in out.read_bytes()


def test_the_clone_exports_its_own_persona(cli, ws, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ws.root)
    assert cli("persona", "export", "-o", str(tmp_path / "me.png"))[0] == 0
    assert read_card(tmp_path / "me.png").name == "Maggie"


def test_broken_cards_name_the_field(tmp_path):
    good = base64.b64encode(json.dumps(V2).encode())
    bad_crc = bytearray(_blank_png() + _chunk(b"tEXt", b"chara\0" + good) + _chunk(b"IEND", b""))
    bad_crc[-20] ^= 0xFF                                    # flip a byte inside the chara chunk
    (tmp_path / "crc.png").write_bytes(bytes(bad_crc))
    with pytest.raises(DataError, match=r"crc.png, field 'chara': PNG chunk tEXt \(chara\) has a bad checksum"):
        read_card(tmp_path / "crc.png")
    (tmp_path / "b64.png").write_bytes(_blank_png() + _chunk(b"tEXt", b"chara\0not base64!") + _chunk(b"IEND", b""))
    with pytest.raises(DataError, match="field 'chara': the 'chara' chunk is not base64"):
        read_card(tmp_path / "b64.png")
    (tmp_path / "cut.png").write_bytes((_blank_png() + _chunk(b"tEXt", b"chara\0" + good))[:-30])
    with pytest.raises(DataError, match="is cut off"):
        read_card(tmp_path / "cut.png")
    (tmp_path / "v9.json").write_text(json.dumps(dict(V2, spec_version="9.0")))
    with pytest.raises(DataError, match=r"v9.json, field 'spec_version': unknown spec_version '9.0'"):
        read_card(tmp_path / "v9.json")
    (tmp_path / "v1.json").write_text(json.dumps({"name": "x", "description": "y"}))
    with pytest.raises(DataError, match="field 'spec': unknown card spec None"):
        read_card(tmp_path / "v1.json")
