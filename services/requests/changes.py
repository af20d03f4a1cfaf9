"""One way to change a stored request: read, apply a lifecycle step, compare-and-set, repeat."""

from __future__ import annotations

from collections.abc import Callable

from services.errors import RequestGone, StoreError
from services.requests.model import ApprovalRequest
from services.requests.store import RequestStore

Step = Callable[[ApprovalRequest], ApprovalRequest]

# Each lost race means another step was saved, so this bounds the people racing for one
# request at once, not the work of any one of them.
_TRIES = 64


async def apply(
    store: RequestStore, request: ApprovalRequest, step: Step, *, release: str | None = None
) -> ApprovalRequest:
    """Apply `step` to `request` (as read) and save it; if another step was saved meanwhile,
    read the request again and apply `step` to that, so the step always checks the state it
    changes. Returns the request as saved; raises what `step` raises (a TransitionRefused),
    NotFound when the request is gone."""
    current = request
    for _ in range(_TRIES):
        saved = await store.save(step(current), release=release)
        if saved is not None:
            return saved
        fresh = await store.get(request.id)
        if fresh is None:
            raise RequestGone(request.id)
        current = fresh
    raise StoreError(f"{request.id} kept changing under {_TRIES} attempts to save it")


async def apply_by_id(store: RequestStore, request_id: str, step: Step) -> ApprovalRequest:
    """`apply` to the request as stored now."""
    request = await store.get(request_id)
    if request is None:
        raise RequestGone(request_id)
    return await apply(store, request, step)
