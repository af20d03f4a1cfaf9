"""views.open, views.push, views.update and views.publish: modals and App Home."""

from __future__ import annotations

from emulators.slack.records import FakeView, JSONDict, Reply, SlackFailure
from emulators.slack.wire import json_arg
from emulators.slack.workspace import Workspace


def views_open(slack: Workspace, args: JSONDict) -> Reply:
    payload = slack._check_view("views.open", json_arg(args, "view"), "modal")
    trigger = slack._take_trigger(args)
    view = slack._store_view(payload, trigger.user_id, root=None, previous=None)
    trigger.used = True
    for old in slack._stacks.get(trigger.user_id, []):
        slack.views[old].closed = True
    slack._stacks[trigger.user_id] = [view.id]
    return Reply({"ok": True, "view": view.view})


def views_push(slack: Workspace, args: JSONDict) -> Reply:
    payload = slack._check_view("views.push", json_arg(args, "view"), "modal")
    trigger = slack._take_trigger(args)
    stack = slack._stacks.setdefault(trigger.user_id, [])
    if len(stack) >= slack.max_view_stack:
        raise SlackFailure("push_limit_reached")
    root = stack[0] if stack else None
    previous = stack[-1] if stack else None
    view = slack._store_view(payload, trigger.user_id, root=root, previous=previous)
    trigger.used = True
    stack.append(view.id)
    return Reply({"ok": True, "view": view.view})


def views_update(slack: Workspace, args: JSONDict) -> Reply:
    view_id, external_id = args.get("view_id"), args.get("external_id")
    if view_id:
        view = slack.views.get(str(view_id))
    elif external_id:
        view = next((v for v in slack.views.values() if v.external_id == external_id), None)
    else:
        raise SlackFailure("invalid_arguments")
    if view is None or view.closed:
        raise SlackFailure("not_found")
    payload = slack._check_view("views.update", json_arg(args, "view"), view.type)
    _check_hash(view, args)
    slack._replace_view(view, payload)
    return Reply({"ok": True, "view": view.view})


def views_publish(slack: Workspace, args: JSONDict) -> Reply:
    user_id = args.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise SlackFailure("invalid_arguments")
    payload = slack._check_view("views.publish", json_arg(args, "view"), "home")
    existing = slack.home_view(user_id)
    if existing is None:
        view = slack._store_view(payload, user_id, root=None, previous=None)
        slack._homes[user_id] = view.id
    else:
        _check_hash(existing, args)
        view = existing
        slack._replace_view(view, payload)
    return Reply({"ok": True, "view": view.view})


def _check_hash(view: FakeView, args: JSONDict) -> None:
    given = args.get("hash")
    if given and given != view.hash:
        raise SlackFailure("hash_conflict")
