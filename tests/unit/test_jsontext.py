"""The hashed JSON form is what `json.dumps` wrote before it: stored hashes depend on it."""

from __future__ import annotations

import json

from services.jsontext import sorted_compact


def test_sorted_compact_is_json_dumps_with_the_hashed_options() -> None:
    value = {
        "z": ["Zoë", 1, None, True, 2.5],
        "a": {"nested": 'line\nbreak "quoted" \\ tab\t \u2028 ✓', "b": []},
        "é": "",
    }
    assert sorted_compact(value) == json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert sorted_compact(value).startswith('{"a":{"b":[],"nested":"line\\nbreak')
