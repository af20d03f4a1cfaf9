"""ApprovalFlow's 9 endpoints, the scopes each needs, and whether a failed call may be repeated."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

PRODUCT_SCOPE = "read:forge-app:confluence"  # every call needs it (approvalflow-api.md §1.2)
READ_CHANGE_SET = "read:change-set:custom"
WRITE_CHANGE_SET = "write:change-set:custom"
READ_APPROVAL = "read:approval:custom"
WRITE_APPROVAL = "write:approval:custom"


class Method(StrEnum):
    GET = "GET"
    POST = "POST"


@dataclass(frozen=True)
class Endpoint:
    """One documented endpoint: its path under the base URL, its custom scope, and whether it
    changes nothing (`repeatable`), so a timeout, 429 or 5xx may be retried automatically."""

    name: str
    method: Method
    path: str
    scope: str
    repeatable: bool

    @property
    def scopes(self) -> frozenset[str]:
        """Every scope a call needs: the product scope and the endpoint's custom scope."""
        return frozenset({PRODUCT_SCOPE, self.scope})


# Both preflights are POSTs yet write nothing and need only a read scope (§2.8, §2.9), so they
# are repeatable; create, update and archive are writes and are not repeated blindly either.
LIST_CHANGE_SETS = Endpoint("list_change_sets", Method.GET, "/changeSets", READ_CHANGE_SET, True)
CHANGE_SET_DETAIL = Endpoint(
    "change_set_detail", Method.GET, "/changeSets/detail", READ_CHANGE_SET, True
)
CREATE_CHANGE_SET = Endpoint(
    "create_change_set", Method.POST, "/changeSets", WRITE_CHANGE_SET, False
)
UPDATE_CHANGE_SET = Endpoint(
    "update_change_set", Method.POST, "/changeSets/update", WRITE_CHANGE_SET, False
)
ARCHIVE_CHANGE_SET = Endpoint(
    "archive_change_set", Method.POST, "/changeSets/archive", WRITE_CHANGE_SET, False
)
SUBMIT_CHANGE_SET = Endpoint(
    "submit_change_set", Method.POST, "/changeSets/submit", WRITE_CHANGE_SET, False
)
PREFLIGHT_CHANGE_SET = Endpoint(
    "preflight_change_set", Method.POST, "/changeSets/preflight", READ_CHANGE_SET, True
)
SUBMIT_PAGE = Endpoint("submit_page", Method.POST, "/pages/submit", WRITE_APPROVAL, False)
PREFLIGHT_PAGE = Endpoint("preflight_page", Method.POST, "/pages/preflight", READ_APPROVAL, True)

ENDPOINTS: tuple[Endpoint, ...] = (
    LIST_CHANGE_SETS,
    CHANGE_SET_DETAIL,
    CREATE_CHANGE_SET,
    UPDATE_CHANGE_SET,
    ARCHIVE_CHANGE_SET,
    SUBMIT_CHANGE_SET,
    PREFLIGHT_CHANGE_SET,
    SUBMIT_PAGE,
    PREFLIGHT_PAGE,
)
KNOWN_SCOPES: frozenset[str] = frozenset(
    {PRODUCT_SCOPE, READ_CHANGE_SET, WRITE_CHANGE_SET, READ_APPROVAL, WRITE_APPROVAL}
)


def missing_scopes(endpoint: Endpoint, granted: frozenset[str]) -> list[str]:
    """The scopes `endpoint` needs that `granted` lacks, product scope first."""
    return sorted(endpoint.scopes - granted, key=lambda scope: (scope != PRODUCT_SCOPE, scope))
