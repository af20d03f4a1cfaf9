"""Where the bot sends 3LO calls: the live hosts, or the sandbox mounted in its own web app."""

from __future__ import annotations

from bot.config import load_settings
from bot.stores.keys import OAUTH_STATE_TTL
from bot.wiring import (
    SANDBOX_CLIENT_ID,
    atlassian_client,
    atlassian_endpoints,
    confluence_site_url,
)
from emulators.approvalflow.seed import SITE_URL
from services.linking.service import STATE_TTL
from services.secretbox import new_key

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "sig", "ENCRYPTION_KEYS": new_key()}
LIVE = {
    **BASE,
    "ATLASSIAN_CLIENT_ID": "live-client",
    "ATLASSIAN_CLIENT_SECRET": "live-secret",
    "CONFLUENCE_SITE_URL": "https://acme.atlassian.net",
    "APPROVALFLOW_APP_ID": "app",
    "APPROVALFLOW_ENV_ID": "env",
}


def test_sandbox_mode_uses_the_mounted_sandbox() -> None:
    settings = load_settings(
        {**BASE, "PORT": "4100", "ATLASSIAN_REDIRECT_URI": "https://bot.example/atlassian/callback"}
    )
    endpoints = atlassian_endpoints(settings)
    # The browser reaches the bot at its public origin; the bot calls itself over loopback.
    assert endpoints.authorize_url == "https://bot.example/sandbox/authorize"
    assert endpoints.token_url == "http://127.0.0.1:4100/sandbox/oauth/token"
    assert endpoints.api_url == "http://127.0.0.1:4100/sandbox"
    assert confluence_site_url(settings) == SITE_URL
    client = atlassian_client(settings)
    assert client.client_id == SANDBOX_CLIENT_ID
    assert client.redirect_uri == "https://bot.example/atlassian/callback"


def test_explicit_hosts_win_in_sandbox_mode() -> None:
    settings = load_settings(
        {
            **BASE,
            "ATLASSIAN_AUTH_URL": "http://127.0.0.1:5/",
            "ATLASSIAN_API_URL": "http://127.0.0.1:6",
        }
    )
    endpoints = atlassian_endpoints(settings)
    assert endpoints.authorize_url == "http://127.0.0.1:5/authorize"
    assert endpoints.token_url == "http://127.0.0.1:5/oauth/token"
    assert endpoints.api_url == "http://127.0.0.1:6"


def test_live_mode_uses_the_configured_hosts_and_client() -> None:
    settings = load_settings(LIVE)
    endpoints = atlassian_endpoints(settings)
    assert endpoints.authorize_url == "https://auth.atlassian.com/authorize"
    assert endpoints.token_url == "https://auth.atlassian.com/oauth/token"
    assert endpoints.api_url == "https://api.atlassian.com"
    client = atlassian_client(settings)
    assert (client.client_id, client.client_secret) == ("live-client", "live-secret")
    assert "live-secret" not in repr(client)
    assert confluence_site_url(settings) == "https://acme.atlassian.net"


def test_the_state_ttl_is_the_one_in_the_key_module() -> None:
    assert STATE_TTL.total_seconds() == OAUTH_STATE_TTL == 600
