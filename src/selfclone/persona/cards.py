"""Character cards V2 and V3 (the community formats of SillyTavern and others): JSON files, and PNG images that
carry the card base64-encoded in a `chara` (V2) or `ccv3` (V3) tEXt chunk.

    card = read_card(Path("maggie.png"))          # -> Card(name, data, spec)
    write_card(Path("out.png"), card)             # a PNG with both chunks, or .json for the JSON file

Specs: https://github.com/malfoyslastname/character-card-spec-v2 and kwaroran/character-card-spec-v3.
"""
from __future__ import annotations

import base64
import binascii
import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from ..fileio import atomic_open, write_json

SPECS = {"chara_card_v2": ("2.0", "chara"), "chara_card_v3": ("3.0", "ccv3")}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example", "creator_notes",
          "system_prompt", "post_history_instructions", "alternate_greetings", "tags", "creator",
          "character_version", "extensions")


@dataclass(frozen=True)
class Card:
    name: str
    data: dict
    spec: str = "chara_card_v2"

    def to_json(self) -> dict:
        return {"spec": self.spec, "spec_version": SPECS[self.spec][0], "data": self.data}


def new_card(name: str, *, description: str = "", system_prompt: str = "", spec: str = "chara_card_v3") -> Card:
    data = {f: "" for f in FIELDS}
    data |= {"name": name, "description": description, "system_prompt": system_prompt, "alternate_greetings": [],
             "tags": [], "extensions": {}, "creator": "selfclone"}
    if spec == "chara_card_v3":
        data |= {"group_only_greetings": [], "assets": []}
    return Card(name, data, spec)


def parse_card(payload, where: Path | str) -> Card:
    """A card from its decoded JSON; unknown specs and versions, and a card without a name, are named."""
    if not isinstance(payload, dict):
        raise DataError("is not a character card (expected a JSON object)", path=where)
    spec = payload.get("spec")
    if spec not in SPECS:
        raise DataError(f"unknown card spec {spec!r}", f"supported: {', '.join(SPECS)} (V1 cards: re-save as V2)",
                        path=where, field="spec")
    version = str(payload.get("spec_version", ""))
    if version.split(".")[0] != SPECS[spec][0].split(".")[0]:
        raise DataError(f"unknown spec_version {version!r} for {spec}", f"expected {SPECS[spec][0]}",
                        path=where, field="spec_version")
    data = payload.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"].strip():
        raise DataError("the card has no name", "a card's data.name must be a non-empty text", path=where,
                        field="data.name")
    return Card(data["name"].strip(), data, spec)


def png_chunks(blob: bytes, where: Path | str) -> dict[str, str]:
    """The tEXt chunks of a PNG, keyword -> text; a truncated chunk or a bad CRC is named."""
    if not blob.startswith(PNG_SIGNATURE):
        raise DataError("is not a PNG image (bad signature)", path=where)
    texts, pos = {}, len(PNG_SIGNATURE)
    while pos < len(blob):
        if pos + 8 > len(blob):
            raise DataError(f"PNG truncated at byte {pos}", "the file is incomplete; export the card again", path=where)
        length, kind = struct.unpack(">I4s", blob[pos:pos + 8])
        end = pos + 12 + length
        name = kind.decode("latin-1")
        if end > len(blob):
            raise DataError(f"PNG chunk {name} is cut off at byte {len(blob)}", "export the card again",
                            path=where, field=name)
        data = blob[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", blob[end - 4:end])
        if zlib.crc32(kind + data) != crc:
            keyword = data.split(b"\0", 1)[0].decode("latin-1") if kind == b"tEXt" else name
            raise DataError(f"PNG chunk {name} ({keyword}) has a bad checksum", "the file is damaged; export the "
                            "card again", path=where, field=keyword)
        if kind == b"tEXt" and b"\0" in data:
            keyword, text = data.split(b"\0", 1)
            texts[keyword.decode("latin-1")] = text.decode("latin-1")
        if kind == b"IEND":
            break
        pos = end
    return texts


def _decode_chunk(text: str, keyword: str, where) -> dict:
    try:
        return json.loads(base64.b64decode(text, validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"the '{keyword}' chunk is not base64-encoded card JSON ({exc})", "export the card again",
                        path=where, field=keyword) from exc


def read_card(path: Path) -> Card:
    """A V2/V3 card from a JSON file or a PNG (its ccv3 chunk preferred over chara, as the V3 spec says)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("no such card file", path=path)
    blob = path.read_bytes()
    if blob.startswith(PNG_SIGNATURE):
        chunks = png_chunks(blob, path)
        keyword = "ccv3" if "ccv3" in chunks else "chara" if "chara" in chunks else None
        if keyword is None:
            raise DataError("the PNG carries no character card (no 'chara' or 'ccv3' tEXt chunk)", path=path,
                            field="chara")
        return parse_card(_decode_chunk(chunks[keyword], keyword, path), f"{path} ({keyword} chunk)")
    try:
        return parse_card(json.loads(blob.decode("utf-8")), path)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"is neither a PNG nor card JSON ({exc})", path=path) from exc


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _blank_png() -> bytes:
    """A 1x1 white image: a card needs a picture, and we have none of the person."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff"))


def write_card(path: Path, card: Card) -> None:
    """A .json card, or a .png one carrying the card as both chara (V2 readers) and ccv3 (V3 readers)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        write_json(path, card.to_json())
        return
    chunks = b""
    for spec, (_, keyword) in SPECS.items():
        payload = Card(card.name, card.data, spec).to_json()
        chunks += _chunk(b"tEXt", keyword.encode() + b"\0" + base64.b64encode(
            json.dumps(payload, ensure_ascii=False).encode("utf-8")))
    with atomic_open(path, "wb") as fh:
        fh.write(_blank_png() + chunks + _chunk(b"IEND", b""))
