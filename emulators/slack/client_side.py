"""What Slack does for a person between the app's calls: closing views, acks, submissions."""

from __future__ import annotations

import contextlib

from emulators.slack.blockkit_limits import message_problems
from emulators.slack.records import (
    SLACKBOT,
    FakeMessage,
    IssuedResponseUrl,
    JSONDict,
    ResponsePost,
    SlackFailure,
)
from emulators.slack.response_urls import ResponseUrls
from emulators.slack.wire import json_arg


class ClientSide(ResponseUrls):
    """What Slack's client and servers do for a person around the app's answers."""

    def close_view(self, view_id: str) -> None:
        """The user closed a modal (or acked a submission): it and the views above it close."""
        with self._lock:
            view = self.views[view_id]
            stack = self._stacks.get(view.user_id, [])
            if view_id in stack:
                for closed in stack[stack.index(view_id) :]:
                    self.views[closed].closed = True
                del stack[stack.index(view_id) :]
            view.closed = True

    def dm_for(self, user_id: str) -> str:
        """The app's DM with the person, opened on first use as Slack opens it."""
        with self._lock:
            return self._dm_for(user_id)

    def apply_ack(self, channel: str, user: str, payload: JSONDict) -> None:
        """A slash command's ack carried a message: Slack shows it to the person (ephemeral
        unless `response_type` is in_channel)."""
        with self._lock:
            problems = message_problems(
                payload.get("text") if isinstance(payload.get("text"), str) else None,
                json_arg(payload, "blocks"),
            )
            if problems:
                self._violation("command ack", problems)
                payload = {"text": "The app answered with a message Slack could not show."}
            issued = IssuedResponseUrl(channel, user, None, self.clock.now())
            self._apply_response(ResponsePost("", payload, issued.issued_at, channel, user), issued)
        self.touch()

    def slackbot_says(self, channel: str, user: str, text: str) -> None:
        """Slack itself tells the person something (an unknown command, an app that failed),
        as Slackbot, only to them."""
        with self._lock:
            message = FakeMessage(
                channel, self._next_ts(), text, None, SLACKBOT, ephemeral_user=user
            )
            self._ephemerals.append(message)
        self.touch()

    def apply_submission(self, view_id: str, answer: JSONDict) -> None:
        """Apply the app's answer to a view_submission, as Slack does."""
        with self._lock, contextlib.suppress(SlackFailure):  # recorded in violations
            view = self.views[view_id]
            action = answer.get("response_action")
            if action == "errors":
                errors = answer.get("errors")
                view.errors = (
                    {str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {}
                )
            elif action == "update":
                payload = self._check_view("response_action update", answer.get("view"), "modal")
                view.errors = {}
                self._replace_view(view, payload)
            elif action == "push":
                payload = self._check_view("response_action push", answer.get("view"), "modal")
                stack = self._stacks.setdefault(view.user_id, [])
                pushed = self._store_view(
                    payload, view.user_id, root=stack[0] if stack else None, previous=view.id
                )
                stack.append(pushed.id)
            elif action == "clear":
                stack = self._stacks.get(view.user_id, [])
                if stack:
                    self.close_view(stack[0])
            else:
                self.close_view(view_id)
        self.touch()
