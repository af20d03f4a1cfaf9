"""RequestSettings: what the requests feature needs of §5, and its own timings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestSettings:
    """What the requests feature needs of §5, and its own timings (not configuration)."""

    allow_self_approval: bool = False  # ALLOW_SELF_APPROVAL
    request_ttl_hours: float = 72  # REQUEST_TTL_HOURS
    reminder_hours: float = 24  # REMINDER_HOURS
    poll_interval_seconds: float = 60  # POLL_INTERVAL_SECONDS
    confluence_site_url: str | None = None  # CONFLUENCE_SITE_URL: pasted links must be there
    # A submit holding its claim longer than this is stuck (its process died): longer than the
    # ApprovalFlow client's write timeout (30 s + connect), so a live submit is never taken over.
    submit_lease_seconds: float = 120
    # A person's second window on a request waits this long for the first one's checks.
    signing_hold_seconds: float = 60
    # Tracking polls back off while nothing changes, up to this.
    max_poll_interval_seconds: float = 30 * 60
