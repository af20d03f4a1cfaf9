"""Setting up a workspace: people, channels, a person's messages, triggers and tokens."""

from __future__ import annotations

import secrets

from emulators.slack.records import DEFAULT_USER, FakeMessage, FakeUser, Trigger
from emulators.slack.workspace import Workspace


class Arrange(Workspace):
    """What tests and the playground put into the workspace: people, channels, messages."""

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        email: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        tz: str = "Europe/London",
        is_bot: bool = False,
        is_restricted: bool = False,
        deleted: bool = False,
    ) -> FakeUser:
        user = FakeUser(
            id=user_id,
            name=name or user_id.lower(),
            real_name=real_name or name or user_id,
            email=email,
            is_admin=is_admin or is_owner,  # owners are admins in Slack too
            is_owner=is_owner,
            is_bot=is_bot,
            is_restricted=is_restricted,
            deleted=deleted,
            tz=tz,
        )
        with self._lock:
            self.users[user_id] = user
        return user

    def add_channel(self, channel_id: str, name: str, *, bot_member: bool = True) -> None:
        """A public channel; without `bot_member` the app may not post in it."""
        with self._lock:
            self.channel_names[channel_id] = name
            if bot_member:
                self.bot_channels.add(channel_id)
            else:
                self.bot_channels.discard(channel_id)

    def add_user_message(
        self, channel: str, text: str, *, user: str = DEFAULT_USER, thread_ts: str | None = None
    ) -> str:
        """A message a person posted, which the bot can neither update nor delete."""
        with self._lock:
            channel = self._resolve_channel(channel)
            message = FakeMessage(channel, self._next_ts(), text, None, user, thread_ts=thread_ts)
            self._channels.setdefault(channel, {})[message.ts] = message
        return message.ts

    def new_trigger_id(self, user_id: str = DEFAULT_USER) -> str:
        """A trigger_id as Slack puts in an interaction: single use, valid for `trigger_ttl`."""
        trigger_id = (
            f"{secrets.randbelow(10**10)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"
        )
        with self._lock:
            self._triggers[trigger_id] = Trigger(user_id, self.clock.now())
        return trigger_id

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self.revoked_tokens.add(token)
