"""response_urls: issuing them, answering posts to them, and showing what was posted."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulators.slack.blockkit_limits import message_problems
from emulators.slack.rate_limits import Faults, fault_reply
from emulators.slack.records import (
    DEFAULT_USER,
    Call,
    FakeMessage,
    IssuedResponseUrl,
    JSONDict,
    Reply,
    ResponsePost,
)
from emulators.slack.wire import headers_of, json_arg


class ResponseUrls(Faults):
    """response_urls: issued to the app, posted to by it, applied as Slack applies them."""

    def new_response_url(
        self,
        *,
        channel: str | None = None,
        user: str | None = DEFAULT_USER,
        message_ts: str | None = None,
    ) -> str:
        """An absolute response_url; `message_ts` names the original for replace/delete."""
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._response_urls[token] = IssuedResponseUrl(
                channel, user, message_ts, self.clock.now()
            )
        return f"{self.base_url}/response/{token}"

    async def _response_url(self, request: Request) -> Response:
        token = request.path_params["token"]
        at = self.clock.now()
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        url = str(request.url)
        latency = self._latency.get("response_url", self._latency.get("*", 0.0))
        if latency:
            await asyncio.sleep(latency)
        fault = self._take_fault("response_url")
        if fault is not None:
            reply = fault_reply(fault)
        elif not isinstance(payload, dict):
            reply = Reply({"ok": False, "error": "invalid_payload"}, status=400)
        else:
            with self._lock:
                reply = self._respond(token, url, payload, at)
        self._record(
            Call(
                "response_url",
                payload if isinstance(payload, dict) else {},
                headers_of(request),
                at,
                "POST",
                reply.status,
                reply.body,
            )
        )
        return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)

    def _respond(self, token: str, url: str, payload: JSONDict, at: datetime) -> Reply:
        issued = self._response_urls.get(token)
        if issued is None:
            return Reply({"ok": False, "error": "no_active_hooks"}, status=404)
        if at - issued.issued_at > self.response_url_ttl:
            return Reply({"ok": False, "error": "expired_url"}, status=404)
        if issued.uses >= self.response_url_max_uses:
            return Reply({"ok": False, "error": "used_url"}, status=404)
        post = ResponsePost(url, payload, at, issued.channel, issued.user)
        if post.kind != "delete_original":
            problems = message_problems(
                post.text if "text" in payload else None,
                json_arg(payload, "blocks"),
                attachments=json_arg(payload, "attachments"),
            )
            if problems:
                self._violation("response_url", problems)
                post.ok = False
                self.response_posts.append(post)
                return Reply({"ok": False, "error": "invalid_blocks"})
        issued.uses += 1
        self.response_posts.append(post)
        self._apply_response(post, issued)
        return Reply({"ok": True})

    def _apply_response(self, post: ResponsePost, issued: IssuedResponseUrl) -> None:
        channel = issued.channel
        original = self._channels.get(channel or "", {}).get(issued.message_ts or "")
        if post.kind == "delete_original":
            if original is not None:
                original.deleted = True
        elif post.kind == "replace_original":
            if original is not None:
                original.text = post.text or ""
                original.blocks = post.blocks
                original.edited_ts = self._next_ts()
        elif channel is not None:
            message = FakeMessage(
                channel,
                self._next_ts(),
                post.text or "",
                post.blocks,
                self.bot_user_id,
                bot_id=self.bot_id,
                thread_ts=post.payload.get("thread_ts"),
                args=post.payload,
            )
            if post.kind == "in_channel":
                self._channels.setdefault(channel, {})[message.ts] = message
            else:
                message.ephemeral_user = issued.user
                self._ephemerals.append(message)
