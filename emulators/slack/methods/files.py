"""files.*: Slack's two-step upload, and a file's info and deletion."""

from __future__ import annotations

import secrets
from urllib.parse import quote

from emulators.slack.records import FakeFile, FakeMessage, JSONDict, Reply, SlackFailure
from emulators.slack.wire import json_arg
from emulators.slack.workspace import Workspace, random_id


def files_get_upload_url(slack: Workspace, args: JSONDict) -> Reply:
    filename = args.get("filename")
    length = args.get("length")
    if not filename or length is None:
        raise SlackFailure("invalid_arguments")
    try:
        size = int(length)
    except (TypeError, ValueError):
        raise SlackFailure("invalid_arguments") from None
    file_id = "F" + random_id(10)
    secret = secrets.token_urlsafe(12)
    slack._upload_secrets[file_id] = secret
    slack.files[file_id] = FakeFile(
        id=file_id,
        filename=str(filename),
        length=size,
        user=slack.bot_user_id,
        created=slack.clock.now(),
        url_private=f"{slack.base_url}/files-pri/{file_id}/{quote(str(filename))}",
        alt_txt=args.get("alt_txt"),
    )
    return Reply(
        {
            "ok": True,
            "upload_url": f"{slack.base_url}/upload/v1/{file_id}/{secret}",
            "file_id": file_id,
        }
    )


def files_complete_upload(slack: Workspace, args: JSONDict) -> Reply:
    items = json_arg(args, "files")
    if not isinstance(items, list) or not items:
        raise SlackFailure("invalid_arguments")
    files: list[FakeFile] = []
    for item in items:
        file = slack.files.get(str(item.get("id"))) if isinstance(item, dict) else None
        # Bytes never posted to the upload URL: Slack has no file to complete.
        if file is None or file.content is None or file.deleted:
            raise SlackFailure("file_not_found")
        file.title = str(item.get("title") or file.filename)
        files.append(file)
    channels: list[str] = []
    if args.get("channel_id"):
        channels.append(slack._member_channel_arg(args, "channel_id"))
    elif args.get("channels"):
        raw = args["channels"]
        names = raw if isinstance(raw, list) else str(raw).split(",")
        channels += [slack._resolve_channel(str(c).strip()) for c in names if str(c).strip()]
    comment = args.get("initial_comment")
    thread_ts = args.get("thread_ts") or None
    for file in files:
        file.completed = True
        file.initial_comment = comment
    for channel in channels:
        # One message per channel carries all the files, as Slack shares them.
        message = FakeMessage(
            channel,
            slack._next_ts(),
            str(comment or ""),
            None,
            slack.bot_user_id,
            bot_id=slack.bot_id,
            thread_ts=thread_ts,
            args=args,
        )
        for file in files:
            file.channels.append(channel)
            file.shares[channel] = message.ts
        message.files = [f.to_api() for f in files]
        slack._channels.setdefault(channel, {})[message.ts] = message
    return Reply({"ok": True, "files": [f.to_api() for f in files]})


def _file_arg(slack: Workspace, args: JSONDict) -> FakeFile:
    file = slack.files.get(str(args.get("file", "")))
    if file is None or not file.completed:
        raise SlackFailure("file_not_found")
    if file.deleted:
        raise SlackFailure("file_deleted")
    return file


def files_info(slack: Workspace, args: JSONDict) -> Reply:
    file = _file_arg(slack, args)
    return Reply(
        {
            "ok": True,
            "file": file.to_api(),
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }
    )


def files_delete(slack: Workspace, args: JSONDict) -> Reply:
    file = _file_arg(slack, args)
    file.deleted = True
    return Reply({"ok": True})
