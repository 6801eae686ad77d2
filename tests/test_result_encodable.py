"""encodable: valid text passes through untouched; a lone surrogate is shown as its escape, so a reply can carry it."""

from __future__ import annotations

import json

from mgexec.result import encodable, encodable_tree, rejected


def test_valid_text_is_returned_as_is():
    for text in ("plain", "caf\u00e9 \u2713 \u4e2d \U0001f600\n" * 1000, ""):
        assert encodable(text) is text


def test_lone_surrogates_become_visible_escapes():
    assert encodable("d\udcff/x") == "d\\udcff/x"
    assert encodable("\ud83d\ude00 \u2713") == "\\ud83d\\ude00 \u2713"  # two lone halves, not one character
    assert encodable(b"raw") == "b'raw'"


def test_a_result_with_undecodable_path_bytes_serialises():
    result = encodable_tree(rejected("ls d\udcff", "/w/d\udcff", "no such directory: d\udcff"))
    data = json.loads(result.model_dump_json())
    assert data["work_dir"] == "/w/d\\udcff" and data["stderr"].endswith("d\\udcff")
