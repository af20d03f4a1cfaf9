"""A stateful fake of the Slack Web API: a real HTTP server on 127.0.0.1 that tests inspect."""

from __future__ import annotations

from emulators.slack.app import HttpApp
from emulators.slack.arrange import Arrange
from emulators.slack.client_side import ClientSide
from emulators.slack.inspection import Inspection


class FakeSlack(HttpApp, ClientSide, Inspection, Arrange):
    """The Slack Web API, response_urls and upload URLs, kept in memory and recorded.

    Point `AsyncWebClient(base_url=slack.api_url)` at it. Every method answers HTTP 200 with
    `{"ok": ...}` unless a 429 or another status was injected. Every Block Kit payload is
    validated; problems are answered `invalid_blocks` and appended to `violations`.

    Posts to upload URLs and response_urls are recorded as the pseudo-methods `file_upload`
    and `response_url`; fail_next and set_latency accept those names too.
    """
