"""The configuration contract (ARCHITECTURE §5): the only module that reads the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.slack.pacing import LOOKUP_INTERVAL_SECONDS, POST_INTERVAL_SECONDS, UPDATE_INTERVAL_SECONDS
from bot.stores.client import RedisEndpoint, redis_endpoint
from services.errors import ConfigError
from services.secretbox import SecretBox
from services.workspace import CHECK_BATCH

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every environment variable of §5 with its default; secrets never print."""

    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", case_sensitive=True, env_ignore_empty=True
    )

    # Both unset: the playground (an emulated workspace served at /playground) stands in.
    SLACK_BOT_TOKEN: SecretStr | None = None
    SLACK_SIGNING_SECRET: SecretStr | None = None
    SLACK_APP_TOKEN: SecretStr | None = None
    SLACK_API_URL: str = "https://slack.com/api/"
    # The jobs' pace per channel: Slack accepts about one message per second in a channel.
    SLACK_POST_INTERVAL_SECONDS: float = Field(POST_INTERVAL_SECONDS, ge=0, le=60)
    # The jobs' pace of message updates in the workspace (chat.update: Tier 3, 50+ a minute).
    SLACK_UPDATE_INTERVAL_SECONDS: float = Field(UPDATE_INTERVAL_SECONDS, ge=0, le=60)
    # The check of everyone's Slack account: its users.info pace (Tier 4, 100+ a minute) and
    # how many people one run looks up (the rest wait for the next runs, in turn).
    SLACK_LOOKUP_INTERVAL_SECONDS: float = Field(LOOKUP_INTERVAL_SECONDS, ge=0, le=60)
    CHECK_PEOPLE_BATCH: int = Field(CHECK_BATCH, ge=1, le=100_000)

    ATLASSIAN_CLIENT_ID: str | None = None
    ATLASSIAN_CLIENT_SECRET: SecretStr | None = None
    ATLASSIAN_REDIRECT_URI: str | None = None
    ATLASSIAN_AUTH_URL: str = "https://auth.atlassian.com"
    ATLASSIAN_API_URL: str = "https://api.atlassian.com"
    CONFLUENCE_SITE_URL: str | None = None
    APPROVALFLOW_APP_ID: str | None = None
    APPROVALFLOW_ENV_ID: str | None = None
    APPROVALFLOW_BASE_URL: str | None = None

    REDIS_URL: SecretStr | None = None  # may hold a password
    REDIS_PREFIX: str = "approvals:"
    DATA_DIR: Path = Path("./.data")
    ENCRYPTION_KEYS: SecretStr

    APPROVALS_CHANNEL: str | None = None
    SECURITY_CHANNEL: str | None = None
    ADMIN_USER_IDS: Annotated[list[str], NoDecode] = Field(default_factory=list)

    TOKEN_VALIDITY_DAYS: int = Field(30, ge=1, le=3650)
    TOTP_MAX_FAILURES: int = Field(5, ge=1, le=100)
    TOTP_LOCKOUT_MINUTES: int = Field(15, ge=1, le=24 * 60)
    ALLOW_SELF_APPROVAL: bool = False
    SIGNING_POLICIES: Path | None = None
    REQUIRE_EMAIL_MATCH: bool = True
    POLL_INTERVAL_SECONDS: int = Field(60, ge=1, le=24 * 3600)
    # A submit's claim lasts this long unless its process renews it (every third of it); a
    # crashed process's submit is settled within about 4/3 of it (20 s by default).
    SUBMIT_LEASE_SECONDS: float = Field(15, ge=1, le=300)
    REQUEST_TTL_HOURS: int = Field(72, ge=1, le=24 * 365)
    REMINDER_HOURS: int = Field(24, ge=1, le=24 * 365)
    LOG_LEVEL: str = "INFO"
    PORT: int = Field(3000, ge=1, le=65535)

    @field_validator("ADMIN_USER_IDS", mode="before")
    @classmethod
    def _admins(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("LOG_LEVEL")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @field_validator("SLACK_API_URL", "ATLASSIAN_AUTH_URL", "ATLASSIAN_API_URL")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            redis_endpoint(value.get_secret_value())
        return value

    @field_validator("REDIS_PREFIX")
    @classmethod
    def _prefix(cls, value: str) -> str:
        # A brace in the prefix would become (or break) the hash tag that keeps the keys one
        # script touches in one Redis Cluster slot (bot/stores/keys.py).
        if "{" in value or "}" in value:
            raise ValueError("must not contain { or } (they decide Redis Cluster slots)")
        return value

    @field_validator("ENCRYPTION_KEYS")
    @classmethod
    def _keys(cls, value: SecretStr) -> SecretStr:
        try:
            SecretBox(_split_csv(value.get_secret_value()))
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("ENCRYPTION_KEYS: ")) from None
        return value

    @model_validator(mode="after")
    def _live_needs(self) -> Settings:
        if (self.SLACK_BOT_TOKEN is None) != (self.SLACK_SIGNING_SECRET is None):
            raise ValueError(
                "set both SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET for a Slack workspace, "
                "or neither for the playground"
            )
        if self.live:
            missing = [
                name
                for name in (
                    "ATLASSIAN_CLIENT_SECRET",
                    "CONFLUENCE_SITE_URL",
                    "APPROVALFLOW_APP_ID",
                    "APPROVALFLOW_ENV_ID",
                )
                if getattr(self, name) in (None, "")
            ]
            if missing:
                raise ValueError(
                    "with ATLASSIAN_CLIENT_ID set (live mode) these are required: "
                    + ", ".join(missing)
                )
        if self.REMINDER_HOURS >= self.REQUEST_TTL_HOURS:
            raise ValueError("REMINDER_HOURS must be less than REQUEST_TTL_HOURS")
        return self

    @property
    def playground(self) -> bool:
        """True without Slack credentials: the bot serves an emulated workspace at /playground."""
        return self.SLACK_BOT_TOKEN is None and self.SLACK_SIGNING_SECRET is None

    @property
    def live(self) -> bool:
        """True when a real Atlassian 3LO app is configured; otherwise the sandbox is used."""
        return bool(self.ATLASSIAN_CLIENT_ID)

    @property
    def encryption_keys(self) -> list[str]:
        return list(_split_csv(self.ENCRYPTION_KEYS.get_secret_value()))

    @property
    def redis_endpoint(self) -> RedisEndpoint | None:
        """The checked REDIS_URL, or None for the embedded redis-server."""
        if self.REDIS_URL is None:
            return None
        return redis_endpoint(self.REDIS_URL.get_secret_value())

    @property
    def redirect_uri(self) -> str:
        return self.ATLASSIAN_REDIRECT_URI or f"http://localhost:{self.PORT}/atlassian/callback"


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read the settings, raising one ConfigError that names every missing or malformed value."""
    try:
        if environ is None:
            return Settings()  # type: ignore[call-arg]
        return Settings.model_validate(environ)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "configuration"
        if error["type"] == "missing":
            lines.append(f"  {name}: missing (required)")
        else:
            # Never echo the input: it may be a secret.
            lines.append(f"  {name}: {error['msg'].removeprefix('Value error, ')}")
    return "The configuration is incomplete or malformed:\n" + "\n".join(lines)
