"""auth.test, users.* and usergroups.*: who the app is and who is in the workspace."""

from __future__ import annotations

from emulators.slack.records import JSONDict, Reply, SlackFailure
from emulators.slack.workspace import Workspace


def auth_test(slack: Workspace, args: JSONDict) -> Reply:
    return Reply(
        {
            "ok": True,
            "url": f"https://{slack.team_name.lower().replace(' ', '-')}.slack.com/",
            "team": slack.team_name,
            "user": "approvals",
            "team_id": slack.team_id,
            "user_id": slack.bot_user_id,
            "bot_id": slack.bot_id,
            "is_enterprise_install": False,
        }
    )


def users_info(slack: Workspace, args: JSONDict) -> Reply:
    user = slack.users.get(str(args.get("user", "")))
    if user is None:
        raise SlackFailure("user_not_found")
    with_email = "users:read.email" in slack.scopes
    return Reply({"ok": True, "user": user.to_api(slack.team_id, with_email)})


def users_list(slack: Workspace, args: JSONDict) -> Reply:
    """Members in id order, paged by an opaque cursor (the offset) as Slack pages them."""
    members = [slack.users[key] for key in sorted(slack.users)]
    try:
        limit = int(args.get("limit") or 0) or len(members) or 1
        start = int(str(args.get("cursor") or "0").removeprefix("offset:"))
    except ValueError:
        raise SlackFailure("invalid_cursor") from None
    if limit > 1000:
        raise SlackFailure("invalid_limit")
    page = members[start : start + limit]
    following = start + limit if start + limit < len(members) else None
    with_email = "users:read.email" in slack.scopes
    return Reply(
        {
            "ok": True,
            "members": [user.to_api(slack.team_id, with_email) for user in page],
            "response_metadata": {"next_cursor": f"offset:{following}" if following else ""},
        }
    )


def usergroups_users_list(slack: Workspace, args: JSONDict) -> Reply:
    group = slack.usergroups.get(str(args.get("usergroup", "")))
    if group is None:
        raise SlackFailure("no_such_subteam")
    return Reply({"ok": True, "users": list(group.users)})


def usergroups_list(slack: Workspace, args: JSONDict) -> Reply:
    # Slack's usergroups.list: every enabled group of the workspace with its id, handle and name
    # (members only with include_users, which this emulator leaves out as Slack does by default).
    groups = [
        {"id": g.id, "team_id": slack.team_id, "handle": g.handle, "name": g.name,
         "user_count": len(g.users)}
        for g in slack.usergroups.values()
    ]  # fmt: skip
    return Reply({"ok": True, "usergroups": groups})
