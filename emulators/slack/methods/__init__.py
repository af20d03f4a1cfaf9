"""The Web API methods the emulator models, by name; each runs under the workspace's lock."""

from __future__ import annotations

from collections.abc import Callable

from emulators.slack.methods.chat import (
    chat_delete,
    chat_post_ephemeral,
    chat_post_message,
    chat_update,
    conversations_open,
)
from emulators.slack.methods.files import (
    files_complete_upload,
    files_delete,
    files_get_upload_url,
    files_info,
)
from emulators.slack.methods.people import (
    auth_test,
    usergroups_list,
    usergroups_users_list,
    users_info,
    users_list,
)
from emulators.slack.methods.views import views_open, views_publish, views_push, views_update
from emulators.slack.records import JSONDict, Reply
from emulators.slack.workspace import Workspace

# Each takes the merged arguments and returns the reply; raising SlackFailure answers an error.
# They are synchronous because they run under the workspace's lock, a threading lock.
Handler = Callable[[Workspace, JSONDict], Reply]

METHODS: dict[str, Handler] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "conversations.open": conversations_open,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
    "files.getUploadURLExternal": files_get_upload_url,
    "files.completeUploadExternal": files_complete_upload,
    "files.info": files_info,
    "files.delete": files_delete,
    "users.info": users_info,
    "users.list": users_list,
    "usergroups.list": usergroups_list,
    "usergroups.users.list": usergroups_users_list,
}
