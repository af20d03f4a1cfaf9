"""Reading a Web API request: its arguments from query, form or JSON, its headers and peer."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from emulators.slack.records import JSONDict, SlackFailure

# Arguments that arrive as JSON strings when sent as form or query parameters.
JSON_ARGS = ("blocks", "attachments", "view", "files", "metadata")


async def merged_args(request: Request) -> JSONDict:
    """Query string, then form body, then JSON body; later sources win. Raises ValueError."""
    args: JSONDict = dict(request.query_params)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if content_type == "application/json":
        if raw:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("JSON body must be an object")
            args.update(body)
    elif content_type == "application/x-www-form-urlencoded":
        args.update(parse_qsl(raw.decode(), keep_blank_values=True))
    for key in JSON_ARGS:
        encoded = args.get(key)
        if isinstance(encoded, str) and encoded[:1] in ("[", "{"):
            with contextlib.suppress(ValueError):
                args[key] = json.loads(encoded)
    return args


def json_arg(args: Mapping[str, Any], key: str) -> Any:
    value = args.get(key)
    if isinstance(value, str):
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise SlackFailure(
                "invalid_blocks_format" if key == "blocks" else "invalid_arguments"
            ) from None
    return value


def headers_of(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def peer_of(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else ""
