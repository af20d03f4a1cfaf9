"""Who is who in Slack: users.info (`Directory`), users.list (member names), user groups."""

from __future__ import annotations

from dataclasses import dataclass

from bot.slack.api import SlackApi
from handlers.messages import GROUP_UNKNOWN
from services.errors import NotFound, SlackGone

# Slack suggests pages of at most 200; users.list is Tier 2, so few, large pages.
USERS_PAGE = 200
MAX_USER_PAGES = 500  # a guard against a cursor that never ends


@dataclass(frozen=True)
class SlackProfile:
    user_id: str
    name: str
    email: str | None
    is_admin: bool
    deleted: bool = False  # deactivated in Slack: may no longer sign (21 CFR 11.100(a))


class SlackDirectory:
    """`Directory`: users.info, mapped to our own type."""

    def __init__(self, api: SlackApi) -> None:
        self._api = api

    async def user(self, user_id: str) -> SlackProfile:
        try:
            user = await self._api.user_info(user_id)
        except SlackGone:
            raise NotFound(f"Slack does not know the user {user_id}.") from None
        profile = user.get("profile") or {}
        return SlackProfile(
            user_id=user_id,
            name=profile.get("real_name") or user.get("real_name") or user.get("name") or user_id,
            # Email needs users:read.email; bots and some guests have none.
            email=(profile.get("email") or None),
            is_admin=bool(
                user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")
            ),
            deleted=bool(user.get("deleted")),
        )


class SlackMemberNames:
    """users.list, paged: one call per 200 members instead of one users.info per person."""

    def __init__(self, api: SlackApi) -> None:
        self._api = api

    async def names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        cursor: str | None = None
        for _ in range(MAX_USER_PAGES):
            response = await self._api.users_page(USERS_PAGE, cursor)
            for member in response.get("members") or []:
                profile = member.get("profile") or {}
                name = profile.get("real_name") or member.get("real_name") or member.get("name")
                names[str(member.get("id"))] = str(name or member.get("id"))
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return names


class SlackGroupMembers:
    """`GroupMembers`: who is in a user group now (usergroups.users.list, usergroups:read)."""

    def __init__(self, api: SlackApi) -> None:
        self._api = api

    async def members(self, group_id: str) -> frozenset[str]:
        try:
            users = await self._api.group_members(group_id)
        except SlackGone:
            raise NotFound(GROUP_UNKNOWN.format(group=group_id)) from None
        return frozenset(str(user) for user in users if isinstance(user, str))

    async def handles(self) -> dict[str, str]:
        """Every user group of the workspace by handle (usergroups.list), for a policy file's
        `@handle` signers."""
        found = {}
        for group in await self._api.groups():
            if isinstance(group, dict) and group.get("handle") and group.get("id"):
                found[str(group["handle"])] = str(group["id"])
        return found
