"""Prometheus metrics, one registry per running bot (so tests can start many)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self._http_children: dict[tuple[str, int], tuple[Any, Any]] = {}
        self.http_requests = Counter(
            "approvals_http_requests_total",
            "HTTP requests served, by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "approvals_http_request_seconds",
            "Time to answer an HTTP request, by route",
            ["route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.slack_dispatched = Counter(
            "approvals_slack_dispatched_total",
            "Slack requests that passed signature checks and reached the listeners, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.jobs_runs = Counter(
            "approvals_job_runs_total",
            "Background job runs, by job and outcome",
            ["job", "outcome"],
            registry=self.registry,
        )

    def http_served(self, route: str, status: int, seconds: float) -> None:
        # Label lookups hash and lock on every call; on the hot path reuse the children.
        key = (route, status)
        children = self._http_children.get(key)
        if children is None:
            children = (
                self.http_seconds.labels(route),
                self.http_requests.labels(route, str(status)),
            )
            self._http_children[key] = children
        children[0].observe(seconds)
        children[1].inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
