"""Sorted-key compact UTF-8 JSON text: the form the audit chain and snapshot digests hash."""

from __future__ import annotations

import json

# Built once: `json.dumps` with any argument builds a new encoder on every call, which was
# about 40% of encoding an audit entry's canonical form.
_SORTED_COMPACT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sorted_compact(value: object) -> str:
    """`json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`."""
    return _SORTED_COMPACT.encode(value)
