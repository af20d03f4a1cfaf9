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
    # SUBMIT_LEASE_SECONDS: a submit's claim runs out this long after its last renewal. The
    # process doing the submit renews it every `submit_heartbeat_seconds` until it is settled,
    # however long ApprovalFlow takes to answer, so only a submit whose process died stops
    # renewing; the recovery job then takes it over within a lease and a run of that job.
    submit_lease_seconds: float = 15
    # A person's second window on a request waits this long for the first one's checks.
    signing_hold_seconds: float = 60
    # Tracking polls back off while nothing changes, up to this.
    max_poll_interval_seconds: float = 30 * 60
    # A tracking poll claims its request for this long, so a poller that dies leaves the poll
    # to come back then (a poll is never renewed: it is only reads, repeated harmlessly).
    poll_claim_seconds: float = 120

    @property
    def submit_heartbeat_seconds(self) -> float:
        """How often a live submit renews its claim: three renewals fit in one lease, so one
        slow or lost renewal never lets a live submit look dead."""
        return self.submit_lease_seconds / 3

    @property
    def recover_submits_seconds(self) -> float:
        """How often the recovery job looks for submits whose claim ran out: a dead process's
        submit is taken over at most a lease and this long after its last renewal (20 s with
        the defaults)."""
        return self.submit_lease_seconds / 3
