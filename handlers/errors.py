"""The one `@app.error` handler: user errors become ephemeral replies, the rest is logged."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from handlers.blocks.refusals import refusal_text
from handlers.messages import STORE_DOWN, UNEXPECTED_ERROR, UPSTREAM_DOWN, UPSTREAM_UNKNOWN
from handlers.ports import ReplyTo, SlackSurfaces
from services.errors import StoreError, UpstreamError, UserError

log = logging.getLogger(__name__)

# Bolt (1.30, AsyncioListenerRunner) checks every 10 ms whether a listener has acked, and when a
# listener raises it sets `ack.response = None` after this handler returns. A listener that acks
# and then fails within those 10 ms (a fast store answer, e.g. "locked") would have its ack wiped
# and Slack would get a 404. Waiting a few polls before returning lets the ack go out first.
_ACK_POLL_WAIT_SECONDS = 0.03


def user_message(error: Exception) -> str:
    """What the person sees for an error that reached the top."""
    ref = secrets.token_hex(4)
    if isinstance(error, UserError):
        return refusal_text(error)
    if isinstance(error, StoreError):
        log.error("store failure", extra={"ref": ref, "error": str(error)})
        return STORE_DOWN.format(ref=ref)
    if isinstance(error, UpstreamError):
        log.warning("upstream failure", extra={"ref": ref, "error": str(error)})
        template = UPSTREAM_UNKNOWN if error.outcome_unknown else UPSTREAM_DOWN
        return template.format(detail=str(error))
    log.error("unexpected error", extra={"ref": ref}, exc_info=error)
    return UNEXPECTED_ERROR.format(ref=ref)


def reply_to(body: dict[str, Any]) -> ReplyTo:
    """Where the person whose request failed can be answered."""
    user = (body.get("user") or {}).get("id") or body.get("user_id")
    response_url = body.get("response_url") or next(
        (u.get("response_url") for u in body.get("response_urls") or []), None
    )
    channel = (body.get("channel") or {}).get("id") or body.get("channel_id")
    return ReplyTo(user=user, channel=channel, response_url=response_url)


def register(app: AsyncApp, slack: SlackSurfaces) -> None:
    @app.error
    async def on_error(error: Exception, body: dict[str, Any], ack: AsyncAck) -> None:
        if ack.response is not None:
            await asyncio.sleep(_ACK_POLL_WAIT_SECONDS)
        try:
            await slack.reply(reply_to(body), user_message(error))
        except UpstreamError as exc:
            log.warning(
                "could not tell the user about an error",
                extra={"slack_error": getattr(exc, "error", type(exc).__name__)},
            )
