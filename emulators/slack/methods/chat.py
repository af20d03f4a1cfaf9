"""chat.* and conversations.open: messages in channels, ephemeral messages and DMs."""

from __future__ import annotations

from emulators.slack.rate_limits import post_too_soon, update_too_soon
from emulators.slack.records import FakeMessage, JSONDict, Reply, SlackFailure
from emulators.slack.wire import json_arg
from emulators.slack.workspace import Workspace, random_id


def chat_post_message(slack: Workspace, args: JSONDict) -> Reply:
    channel = slack._member_channel_arg(args)
    text, blocks = slack._check_message("chat.postMessage", args)
    if post_too_soon(slack, channel):
        return Reply({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": "1"})
    thread_ts = args.get("thread_ts") or None
    message = FakeMessage(
        channel,
        slack._next_ts(),
        text,
        blocks,
        slack.bot_user_id,
        bot_id=slack.bot_id,
        thread_ts=str(thread_ts) if thread_ts else None,
        attachments=json_arg(args, "attachments"),
        args=args,
    )
    slack._channels.setdefault(channel, {})[message.ts] = message
    return Reply({"ok": True, "channel": channel, "ts": message.ts, "message": message.to_api()})


def chat_post_ephemeral(slack: Workspace, args: JSONDict) -> Reply:
    channel = slack._channel_arg(args)
    user = args.get("user")
    if not isinstance(user, str) or not user:
        raise SlackFailure("user_not_in_channel")
    text, blocks = slack._check_message("chat.postEphemeral", args)
    message = FakeMessage(
        channel,
        slack._next_ts(),
        text,
        blocks,
        slack.bot_user_id,
        bot_id=slack.bot_id,
        thread_ts=args.get("thread_ts") or None,
        ephemeral_user=user,
        args=args,
    )
    slack._ephemerals.append(message)
    return Reply({"ok": True, "message_ts": message.ts})


def chat_update(slack: Workspace, args: JSONDict) -> Reply:
    channel = slack._channel_arg(args)
    message = slack._bot_message(channel, args.get("ts"), deleting=False)
    text, blocks = slack._check_message("chat.update", args)
    if update_too_soon(slack):
        return Reply({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": "1"})
    message.text = text
    if "blocks" in args:
        message.blocks = blocks
    message.edited_ts = slack._next_ts()
    message.args = {**message.args, **args}
    return Reply(
        {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "text": text,
            "message": message.to_api(),
        }
    )


def chat_delete(slack: Workspace, args: JSONDict) -> Reply:
    channel = slack._channel_arg(args)
    message = slack._bot_message(channel, args.get("ts"), deleting=True)
    message.deleted = True
    return Reply({"ok": True, "channel": channel, "ts": message.ts})


def conversations_open(slack: Workspace, args: JSONDict) -> Reply:
    users = args.get("users")
    if isinstance(users, list):
        users = ",".join(str(u) for u in users)
    if not users:
        channel = args.get("channel")
        if not channel:
            raise SlackFailure("users_list_not_supplied")
        return Reply({"ok": True, "channel": {"id": channel}})
    ids = [u.strip() for u in str(users).split(",") if u.strip()]
    if len(ids) == 1:
        already = ids[0] in slack._dm_ids
        channel_id = slack._dm_for(ids[0])
        body: JSONDict = {"id": channel_id, "is_im": True, "user": ids[0]}
    else:
        # A group DM: one stable id per set of members.
        key = ",".join(sorted(ids))
        already = key in slack._dm_ids
        channel_id = slack._dm_ids.setdefault(key, "G" + random_id(10))
        body = {"id": channel_id, "is_mpim": True}
    reply: JSONDict = {"ok": True, "channel": body}
    if already:
        reply.update(no_op=True, already_open=True)
    return Reply(reply)
