"""Redis adapter for the `RequestStore` port: a versioned hash per request, compare-and-set in Lua.

Layout (names and hash tags in bot/stores/keys.py; n = shard_of(id), one of SHARDS):
    {prefix}{req:n}:r:<id>       hash; doc (JSON of what never changes: target, title,
                                 requester, channel, times, snapshot ...), state (JSON of the
                                 lifecycle: status, policy, signatures, submit claim, tracking
                                 ...), v (the version the compare-and-set checks), ts (the
                                 message's ts), slot:<slack id> (ms until which that person's
                                 signing slot is held)
    {prefix}{req:n}:expiry       zset; id by expires (ms): PENDING (and SUBMITTING) requests
    {prefix}{req:n}:remind       zset; id by reminder time (ms), until reminded or closed
    {prefix}{req:n}:submitting   zset; id by the end of its submit lease (ms)
    {prefix}{req:n}:tracking     zset; id by next poll (ms), SUBMITTED requests
    {prefix}{req:n}:escalate     zset; id by when its open stage escalates (ms)
    {prefix}watches              hash; space id -> JSON {admin, channel, since, policy}
    {prefix}seen:<space>         set; change set ids of the space already posted (or tried)

A request and its shard of the five indexes share one slot, so the save script stays within
one slot on Redis Cluster; the jobs read the SHARDS pieces of an index in one pipeline.

`save` is one EVALSHA: it checks the version, writes the state and sets every index entry from
`ApprovalRequest.schedule()`. An approval costs three round trips here: open_signing, the save
of the signature (which claims the submit when it signs the last stage), the save of the submit.
Requests are kept after they close (the audit trail is the permanent record; these are what the
messages show); nothing here carries a TTL except through the signing slot's own deadline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.stores._boundary import store_errors
from bot.stores.client import RedisClient
from bot.stores.keys import Keys, shard_of, shards
from services.approvalflow.targets import (
    ChangeSetTarget,
    PageSnapshot,
    PageTarget,
    Target,
    TargetSnapshot,
)
from services.requests.model import (
    ApprovalRequest,
    Decision,
    Index,
    PageOutcome,
    Policy,
    Signature,
    Signer,
    Stage,
    Status,
    SubmitAttempt,
)
from services.requests.store import Claim, Opening, Watch

# Lua turns numbers into strings with "%.14g"; times go in and out as decimal strings of epoch
# milliseconds, never computed in Lua.

_FIELDS = ("doc", "state", "v", "ts")

# KEYS: hash, then the index zsets in _INDEXES order. ARGV: id, expected version ('0': create),
# doc ('' unless creating), state JSON, one score per index ('' = not listed), the user whose
# signing slot to release ('' none). Replies the new version, or 0 when the version differed.
_SAVE = """
local v = redis.call('HGET', KEYS[1], 'v')
if ARGV[2] == '0' then
  if v then
    return 0
  end
  redis.call('HSET', KEYS[1], 'doc', ARGV[3])
elseif v ~= ARGV[2] then
  return 0
end
local next_v = tonumber(ARGV[2]) + 1
redis.call('HSET', KEYS[1], 'state', ARGV[4], 'v', tostring(next_v))
for i = 2, #KEYS do
  local score = ARGV[i + 3]
  if score == '' then
    redis.call('ZREM', KEYS[i], ARGV[1])
  else
    redis.call('ZADD', KEYS[i], score, ARGV[1])
  end
end
local release = ARGV[#KEYS + 4]
if release ~= '' then
  redis.call('HDEL', KEYS[1], 'slot:' .. release)
end
return next_v
"""

# KEYS: hash. ARGV: user, now ms, hold-until ms. Replies {claim, doc, state, v, ts}.
_OPEN = """
local f = redis.call('HMGET', KEYS[1], 'doc', 'state', 'v', 'ts')
if not f[1] then
  return {'missing'}
end
local held = tonumber(redis.call('HGET', KEYS[1], 'slot:' .. ARGV[1]) or '0')
if held > tonumber(ARGV[2]) then
  return {'busy', f[1], f[2], f[3], f[4]}
end
redis.call('HSET', KEYS[1], 'slot:' .. ARGV[1], ARGV[3])
return {'ok', f[1], f[2], f[3], f[4]}
"""

_INDEXES = (Index.EXPIRY, Index.REMIND, Index.SUBMITTING, Index.TRACKING, Index.ESCALATE)

# How many due ids a job takes per run (bounds one reply; the rest come next run).
_BATCH = 200


class RedisRequestStore:
    """`RequestStore` on Redis; every write is one Lua script, so each method is atomic."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._save = redis.register_script(_SAVE)
        self._open = redis.register_script(_OPEN)
        self._index_keys: dict[Index, Callable[[int], str]] = {
            Index.EXPIRY: keys.request_expiry,
            Index.REMIND: keys.request_reminders,
            Index.SUBMITTING: keys.request_submitting,
            Index.TRACKING: keys.request_tracking,
            Index.ESCALATE: keys.request_escalations,
        }

    async def _write(
        self, request: ApprovalRequest, doc: str, release: str | None, what: str
    ) -> ApprovalRequest | None:
        schedule = request.schedule()
        scores = [_score(schedule[index]) for index in _INDEXES]
        n = shard_of(request.id)
        with store_errors(what):
            version = await self._save(
                keys=[self._keys.request(request.id)]
                + [self._index_keys[index](n) for index in _INDEXES],
                args=[
                    request.id,
                    str(request.version),
                    doc,
                    _dumps(_state_doc(request)),
                    *scores,
                    release or "",
                ],
            )
        if not version:
            return None
        return request.with_changes(version=int(version))

    async def create(self, request: ApprovalRequest) -> ApprovalRequest | None:
        fresh = request.with_changes(version=0)
        return await self._write(fresh, _dumps(_doc(fresh)), None, "creating an approval request")

    async def save(
        self, request: ApprovalRequest, *, release: str | None = None
    ) -> ApprovalRequest | None:
        if request.version < 1:
            raise ValueError("save() writes a stored request; a new one is create()")
        return await self._write(request, "", release, "saving an approval request")

    async def get(self, request_id: str) -> ApprovalRequest | None:
        with store_errors("reading an approval request"):
            fields = await self._redis.hmget(self._keys.request(request_id), _FIELDS)
        return _request(fields)

    async def get_many(self, request_ids: Sequence[str]) -> list[ApprovalRequest]:
        if not request_ids:
            return []
        with store_errors("reading approval requests"):
            pipe = self._redis.pipeline(transaction=False)
            for request_id in request_ids:
                pipe.hmget(self._keys.request(request_id), _FIELDS)
            replies = await pipe.execute()
        found = (_request(fields) for fields in replies)
        return [request for request in found if request is not None]

    async def set_message(self, request_id: str, ts: str) -> None:
        with store_errors("recording a request's message"):
            await self._redis.hset(self._keys.request(request_id), "ts", ts)

    async def open_signing(
        self, request_id: str, user: str, now: datetime, hold_until: datetime
    ) -> Opening:
        with store_errors("opening a request for signing"):
            reply = await self._open(
                keys=[self._keys.request(request_id)],
                args=[user, _ms(now), _ms(hold_until)],
            )
        claim = Claim(_text(reply[0]))
        request = _request(reply[1:]) if len(reply) > 1 else None
        return Opening(claim, request)

    async def release_signing(self, request_id: str, user: str) -> None:
        with store_errors("releasing a signing slot"):
            await self._redis.hdel(self._keys.request(request_id), f"slot:{user}")

    async def due(self, index: Index, now: datetime) -> list[str]:
        """The ids due by `now` in every shard of one index, earliest first, at most _BATCH."""
        key = self._index_keys[index]
        with store_errors(f"listing requests due in the {index.value} index"):
            pipe = self._redis.pipeline(transaction=False)
            for n in shards():
                pipe.zrangebyscore(key(n), "-inf", _ms(now), start=0, num=_BATCH, withscores=True)
            replies = await pipe.execute()
        merged = sorted((score, _text(i)) for reply in replies for i, score in reply)
        return [request_id for _, request_id in merged[:_BATCH]]

    async def pending_ids(self) -> list[str]:
        with store_errors("listing pending requests"):
            pipe = self._redis.pipeline(transaction=False)
            for n in shards():
                pipe.zrange(self._keys.request_expiry(n), 0, -1, withscores=True)
            replies = await pipe.execute()
        # Each shard is in expiry order; merged, the whole list is too, as on one index.
        merged = sorted((score, _text(i)) for reply in replies for i, score in reply)
        return [request_id for _, request_id in merged]

    async def add_watch(self, watch: Watch) -> None:
        document = {
            "admin": watch.admin,
            "channel": watch.channel,
            "since": _iso(watch.since),
            "policy": watch.policy,
        }
        with store_errors("watching a space"):
            await self._redis.hset(self._keys.request_watches(), watch.space_id, _dumps(document))

    async def remove_watch(self, space_id: str) -> bool:
        with store_errors("unwatching a space"):
            removed = await self._redis.hdel(self._keys.request_watches(), space_id)
        return bool(removed)

    async def watches(self) -> list[Watch]:
        with store_errors("listing watched spaces"):
            raw = await self._redis.hgetall(self._keys.request_watches())
        watches = []
        for space, value in sorted((_text(s), _text(v)) for s, v in raw.items()):
            data = json.loads(value)
            since = _time(data["since"])
            watches.append(Watch(space, data["admin"], data["channel"], since, data.get("policy")))
        return watches

    async def claim_seen(self, space_id: str, change_set_id: str) -> bool:
        with store_errors("claiming a change set"):
            added = await self._redis.sadd(self._keys.request_seen(space_id), change_set_id)
        return bool(added)

    async def forget_seen(self, space_id: str, change_set_id: str) -> None:
        with store_errors("forgetting a change set"):
            await self._redis.srem(self._keys.request_seen(space_id), change_set_id)


# --- the documents ---------------------------------------------------------------------------


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(when: datetime) -> int:
    """Epoch milliseconds, exactly (no float rounding)."""
    return (when - _EPOCH) // timedelta(milliseconds=1)


def _score(when: datetime | None) -> str:
    """An index entry's score ('' for no entry)."""
    return "" if when is None else str(_ms(when))


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _target_doc(target: Target) -> dict[str, Any]:
    if isinstance(target, PageTarget):
        return {"kind": "page", "id": target.page_id, "space_key": target.space_key}
    return {"kind": "change_set", "id": target.change_set_id}


def _target(data: dict[str, Any]) -> Target:
    if data["kind"] == "page":
        return PageTarget(page_id=data["id"], space_key=data.get("space_key"))
    return ChangeSetTarget(change_set_id=data["id"])


def _snapshot_doc(snapshot: TargetSnapshot) -> dict[str, Any]:
    return {
        "target": _target_doc(snapshot.target),
        "title": snapshot.title,
        "digest": snapshot.digest,
        "rollup_state": snapshot.rollup_state,
        "archived": snapshot.archived,
        "pages": [
            {
                "page_id": page.page_id,
                "version": page.version,
                "can_submit": page.can_submit,
                "workflow_id": page.workflow_id,
                "reason": page.reason,
                "approved_at_version": page.approved_at_version,
                "is_stale": page.is_stale,
                "title": page.title,
                "restricted": page.restricted,
                "edited_at": _iso(page.edited_at) if page.edited_at else None,
                "edited_by": page.edited_by,
            }
            for page in snapshot.pages
        ],
        "space_key": snapshot.space_key,
        "space_name": snapshot.space_name,
    }


def _snapshot(data: dict[str, Any]) -> TargetSnapshot:
    return TargetSnapshot(
        target=_target(data["target"]),
        title=data.get("title"),
        pages=tuple(_page_snapshot(page) for page in data["pages"]),
        digest=data["digest"],
        rollup_state=data.get("rollup_state"),
        archived=bool(data.get("archived")),
        space_key=data.get("space_key"),
        space_name=data.get("space_name"),
    )


def _page_snapshot(data: dict[str, Any]) -> PageSnapshot:
    edited_at = data.get("edited_at")
    return PageSnapshot(**{**data, "edited_at": _time(edited_at) if edited_at else None})


def _doc(request: ApprovalRequest) -> dict[str, Any]:
    """What never changes after creation (the lifecycle is the state document)."""
    return {
        "id": request.id,
        "target": _target_doc(request.target),
        "title": request.title,
        "requester": request.requester,
        "channel": request.channel,
        "created_at": _iso(request.created_at),
        "expires_at": _iso(request.expires_at),
        "snapshot": _snapshot_doc(request.snapshot),
        "summary": request.summary,
        "reference_url": request.reference_url,
        "source": request.source,
        "extra": dict(request.extra),
        "message_ts": request.message_ts,
    }


def _opt_iso(when: datetime | None) -> str | None:
    return None if when is None else _iso(when)


def _opt_time(text: str | None) -> datetime | None:
    return None if text is None else _time(text)


def _state_doc(request: ApprovalRequest) -> dict[str, Any]:
    """The lifecycle: everything a transition may change."""
    return {
        "status": request.status.value,
        "reviewers": list(request.reviewers),
        "reviewer_groups": list(request.reviewer_groups),
        "policy": None if request.policy is None else _policy_doc(request.policy),
        "signatures": [_signature_doc(s) for s in request.signatures],
        "outcomes": [_outcome_doc(o) for o in request.outcomes],
        "err": request.last_error,
        "rollup": request.rollup_state,
        "reminded": request.reminded,
        "remind_at": _opt_iso(request.remind_at),
        "attempt": None if request.attempt is None else _attempt_doc(request.attempt),
        "poller": request.poller,
        "interval": request.poll_interval,
        "next_poll_at": _opt_iso(request.next_poll_at),
        "stage_opened_at": _opt_iso(request.stage_opened_at),
        "escalated": list(request.escalated),
    }


def _stage_doc(stage: Stage) -> dict[str, Any]:
    return {
        "name": stage.name,
        "meaning": stage.meaning,
        "signers": list(stage.signers),
        "groups": list(stage.groups),
        "required": stage.required,
        "escalate_after": (
            None if stage.escalate_after is None else stage.escalate_after.total_seconds()
        ),
        "escalate_to": list(stage.escalate_to),
        "escalate_groups": list(stage.escalate_groups),
    }


def _stage(data: dict[str, Any]) -> Stage:
    after = data.get("escalate_after")
    return Stage(
        name=data["name"],
        meaning=data.get("meaning", ""),
        signers=tuple(data.get("signers", ())),
        groups=tuple(data.get("groups", ())),
        required=data.get("required"),
        escalate_after=None if after is None else timedelta(seconds=after),
        escalate_to=tuple(data.get("escalate_to", ())),
        escalate_groups=tuple(data.get("escalate_groups", ())),
    )


def _policy_doc(policy: Policy) -> dict[str, Any]:
    return {
        "name": policy.name,
        "description": policy.description,
        "stages": [_stage_doc(stage) for stage in policy.stages],
    }


def _policy(data: dict[str, Any]) -> Policy:
    return Policy(
        name=data["name"],
        stages=tuple(_stage(stage) for stage in data["stages"]),
        description=data.get("description", ""),
    )


def _signer_doc(signer: Signer) -> dict[str, str]:
    return {"slack_id": signer.slack_id, "atlassian_id": signer.atlassian_id, "name": signer.name}


def _signature_doc(signature: Signature) -> dict[str, Any]:
    return {
        "signer": _signer_doc(signature.signer),
        "decision": signature.decision.value,
        "meaning": signature.meaning,
        "comment": signature.comment,
        "signed_at": _iso(signature.signed_at),
        "snapshot_digest": signature.snapshot_digest,
        "stage": signature.stage,
    }


def _signature(data: dict[str, Any]) -> Signature:
    return Signature(
        signer=Signer(**data["signer"]),
        decision=Decision(data["decision"]),
        meaning=data["meaning"],
        comment=data["comment"],
        signed_at=_time(data["signed_at"]),
        snapshot_digest=data["snapshot_digest"],
        stage=int(data.get("stage", 0)),
    )


def _attempt_doc(attempt: SubmitAttempt) -> dict[str, Any]:
    return {
        "id": attempt.attempt_id,
        "signer": _signer_doc(attempt.signer),
        "started_at": _iso(attempt.started_at),
        "page_ids": list(attempt.page_ids),
        "lease_until": _opt_iso(attempt.lease_until),
    }


def _attempt(data: dict[str, Any]) -> SubmitAttempt:
    return SubmitAttempt(
        attempt_id=data["id"],
        signer=Signer(**data["signer"]),
        started_at=_time(data["started_at"]),
        page_ids=tuple(data["page_ids"]),
        lease_until=_opt_time(data.get("lease_until")),
    )


def _outcome_doc(outcome: PageOutcome) -> dict[str, Any]:
    return {
        "page_id": outcome.page_id,
        "title": outcome.title,
        "submitted": outcome.submitted,
        "reason": outcome.reason,
    }


def _request(fields: Sequence[Any]) -> ApprovalRequest | None:
    """The request from its hash fields doc, state, v, ts (None when it does not exist)."""
    raw_doc, raw_state, raw_version, raw_ts = fields
    if raw_doc is None or raw_state is None:
        return None
    doc = json.loads(raw_doc)
    state = json.loads(raw_state)
    return ApprovalRequest(
        id=doc["id"],
        target=_target(doc["target"]),
        title=doc["title"],
        requester=doc["requester"],
        reviewers=tuple(state["reviewers"]),
        reviewer_groups=tuple(state["reviewer_groups"]),
        channel=doc["channel"],
        created_at=_time(doc["created_at"]),
        expires_at=_time(doc["expires_at"]),
        snapshot=_snapshot(doc["snapshot"]),
        status=Status(state["status"]),
        message_ts=(_text(raw_ts) if raw_ts is not None else None) or doc.get("message_ts"),
        summary=doc.get("summary"),
        reference_url=doc.get("reference_url"),
        signatures=tuple(_signature(s) for s in state["signatures"]),
        outcomes=tuple(PageOutcome(**outcome) for outcome in state["outcomes"]),
        last_error=state.get("err"),
        rollup_state=state.get("rollup"),
        reminded=bool(state.get("reminded")),
        source=doc.get("source", "command"),
        extra=dict(doc.get("extra") or {}),
        policy=None if state.get("policy") is None else _policy(state["policy"]),
        remind_at=_opt_time(state.get("remind_at")),
        attempt=None if state.get("attempt") is None else _attempt(state["attempt"]),
        poller=state.get("poller"),
        poll_interval=float(state.get("interval") or 0.0),
        next_poll_at=_opt_time(state.get("next_poll_at")),
        stage_opened_at=_opt_time(state.get("stage_opened_at")),
        escalated=tuple(state.get("escalated") or ()),
        version=int(raw_version),
    )
