"""Redis adapter for the `RequestStore` port: one hash per request, job indexes, every move in Lua.

Layout (names and hash tags in bot/stores/keys.py; n = shard_of(id), one of SHARDS):
    {prefix}{req:n}:r:<id>       hash; doc (JSON of what never changes: target, title, people,
                                 channel, times, snapshot ...), status, expires (ms), ts,
                                 outcomes (JSON), err (last_error), rollup, reminded, attempt
                                 (JSON of the submit claim), attempt_id (its fence), poller,
                                 interval, sig:<slack id> (JSON; one per person, written once),
                                 slot:<slack id> (ms until which that person's signing slot is
                                 held)
    {prefix}{req:n}:expiry       zset; id by expires (ms): PENDING (and SUBMITTING) requests
    {prefix}{req:n}:remind       zset; id by reminder time (ms), until reminded or closed
    {prefix}{req:n}:submitting   zset; id by the end of its submit lease (ms)
    {prefix}{req:n}:tracking     zset; id by next poll (ms), SUBMITTED requests
    {prefix}watches              hash; space id -> JSON {admin, channel, since}
    {prefix}seen:<space>         set; change set ids of the space already posted (or tried)

A request and its shard of the four indexes share one slot, so each script below stays within
one slot on Redis Cluster; the jobs read the SHARDS pieces of an index in one pipeline.

Every state change is one EVALSHA that checks the state it starts from (see the port's table),
so an approval costs three round trips here: open_signing, begin_approval, finish_submit.
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
    PageOutcome,
    Signature,
    Signer,
    Status,
)
from services.requests.store import Claim, Opening, SubmitAttempt, Tracked, Watch

# Lua turns numbers into strings with "%.14g"; times go in and out as decimal strings of epoch
# milliseconds and are compared with tonumber, never written back computed.

# KEYS: hash, expiry zset, remind zset. ARGV: id, doc, expires ms, remind ms ('' none).
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'doc', ARGV[2], 'status', 'pending', 'expires', ARGV[3],
  'reminded', '0')
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
end
return 1
"""

# KEYS: hash. ARGV: user, now ms, hold-until ms. Replies {claim, flat HGETALL}.
_OPEN = """
local all = redis.call('HGETALL', KEYS[1])
if #all == 0 then
  return {'missing', all}
end
if redis.call('HEXISTS', KEYS[1], 'sig:' .. ARGV[1]) == 1 then
  return {'signed', all}
end
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then
  return {'closed', all}
end
local held = tonumber(redis.call('HGET', KEYS[1], 'slot:' .. ARGV[1]) or '0')
if held > tonumber(ARGV[2]) then
  return {'busy', all}
end
redis.call('HSET', KEYS[1], 'slot:' .. ARGV[1], ARGV[3])
return {'ok', all}
"""

# KEYS: hash, expiry, remind, submitting. ARGV: id, user, signature JSON, decision,
# attempt JSON, attempt id, lease-until ms. Replies a Claim value.
_SIGN = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 'missing'
end
redis.call('HDEL', KEYS[1], 'slot:' .. ARGV[2])
local field = 'sig:' .. ARGV[2]
if redis.call('HEXISTS', KEYS[1], field) == 1 then
  return 'signed'
end
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then
  return 'closed'
end
redis.call('HSET', KEYS[1], field, ARGV[3])
redis.call('HDEL', KEYS[1], 'err')
if ARGV[4] == 'approve' then
  redis.call('HSET', KEYS[1], 'status', 'submitting', 'attempt', ARGV[5], 'attempt_id', ARGV[6])
  redis.call('ZADD', KEYS[4], ARGV[7], ARGV[1])
else
  redis.call('HSET', KEYS[1], 'status', 'rejected')
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return 'ok'
"""

# KEYS: hash, submitting, tracking, expiry, remind. ARGV: id, attempt id, outcomes JSON,
# poller, poll-at ms, interval, note ('' none). Replies 1 when finished, 0 when not the holder.
_FINISH = """
if redis.call('HGET', KEYS[1], 'status') ~= 'submitting'
    or redis.call('HGET', KEYS[1], 'attempt_id') ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'submitted', 'outcomes', ARGV[3], 'poller', ARGV[4],
  'interval', ARGV[6])
redis.call('HDEL', KEYS[1], 'attempt', 'attempt_id')
if ARGV[7] == '' then
  redis.call('HDEL', KEYS[1], 'err')
else
  redis.call('HSET', KEYS[1], 'err', ARGV[7])
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
return 1
"""

# KEYS: hash, submitting. ARGV: id, attempt id, error. Replies 1 / 0 as _FINISH.
_FAIL = """
if redis.call('HGET', KEYS[1], 'status') ~= 'submitting'
    or redis.call('HGET', KEYS[1], 'attempt_id') ~= ARGV[2] then
  return 0
end
local signer = cjson.decode(redis.call('HGET', KEYS[1], 'attempt'))['signer']['slack_id']
redis.call('HSET', KEYS[1], 'status', 'pending', 'err', ARGV[3])
redis.call('HDEL', KEYS[1], 'sig:' .. signer, 'attempt', 'attempt_id')
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

# KEYS: hash. ARGV: attempt id, error.
_NOTE = """
if redis.call('HGET', KEYS[1], 'status') ~= 'submitting'
    or redis.call('HGET', KEYS[1], 'attempt_id') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'err', ARGV[2])
return 1
"""

# KEYS: hash, submitting. ARGV: id, now ms, new attempt id, lease-until ms.
# Replies the attempt JSON, or nil when it is not stuck.
_RECLAIM = """
local until_ms = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not until_ms or tonumber(until_ms) > tonumber(ARGV[2]) then
  return false
end
local f = redis.call('HMGET', KEYS[1], 'status', 'attempt')
if f[1] ~= 'submitting' or not f[2] then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return false
end
redis.call('HSET', KEYS[1], 'attempt_id', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
return f[2]
"""

# KEYS: hash, expiry, remind. ARGV: id, now ms. Replies 1 for the caller that expired it.
_EXPIRE = """
local f = redis.call('HMGET', KEYS[1], 'status', 'expires')
if f[1] == 'submitting' then
  return 0
end
if f[1] ~= 'pending' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 0
end
if tonumber(f[2]) > tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'expired')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"""

# KEYS: hash, remind. ARGV: id. Replies 1 once per request.
_REMIND = """
local f = redis.call('HMGET', KEYS[1], 'status', 'reminded')
if f[1] == 'submitting' then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
if f[1] ~= 'pending' or f[2] == '1' then
  return 0
end
redis.call('HSET', KEYS[1], 'reminded', '1')
return 1
"""

# KEYS: tracking, hash. ARGV: id, now ms, until ms. Replies the flat HGETALL, or nil.
_TRACK_CLAIM = """
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not at or tonumber(at) > tonumber(ARGV[2]) then
  return false
end
if redis.call('HGET', KEYS[2], 'status') ~= 'submitted' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return false
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return redis.call('HGETALL', KEYS[2])
"""

# KEYS: hash, tracking. ARGV: id, rollup ('' none), interval, next poll ms ('' stop).
_TRACK_UPDATE = """
if redis.call('HGET', KEYS[1], 'status') ~= 'submitted' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], 'rollup')
else
  redis.call('HSET', KEYS[1], 'rollup', ARGV[2])
end
redis.call('HSET', KEYS[1], 'interval', ARGV[3])
if ARGV[4] == '' then
  redis.call('HSET', KEYS[1], 'status', 'closed')
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
end
return 1
"""

# How many due ids a job takes per run (bounds one reply; the rest come next run).
_BATCH = 200


class RedisRequestStore:
    """`RequestStore` on Redis; every write is one Lua script, so each method is atomic."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._create = redis.register_script(_CREATE)
        self._open = redis.register_script(_OPEN)
        self._sign = redis.register_script(_SIGN)
        self._finish = redis.register_script(_FINISH)
        self._fail = redis.register_script(_FAIL)
        self._note = redis.register_script(_NOTE)
        self._reclaim = redis.register_script(_RECLAIM)
        self._expire = redis.register_script(_EXPIRE)
        self._remind = redis.register_script(_REMIND)
        self._track_claim = redis.register_script(_TRACK_CLAIM)
        self._track_update = redis.register_script(_TRACK_UPDATE)

    async def create(self, request: ApprovalRequest, remind_at: datetime | None) -> bool:
        k = self._keys
        n = shard_of(request.id)
        with store_errors("creating an approval request"):
            created = await self._create(
                keys=[k.request(request.id), k.request_expiry(n), k.request_reminders(n)],
                args=[
                    request.id,
                    json.dumps(_doc(request), separators=(",", ":")),
                    _ms(request.expires_at),
                    "" if remind_at is None else _ms(remind_at),
                ],
            )
        return bool(created)

    async def get(self, request_id: str) -> ApprovalRequest | None:
        with store_errors("reading an approval request"):
            fields = await self._redis.hgetall(self._keys.request(request_id))
        return _request(_decoded(fields))

    async def get_many(self, request_ids: Sequence[str]) -> list[ApprovalRequest]:
        if not request_ids:
            return []
        with store_errors("reading approval requests"):
            pipe = self._redis.pipeline(transaction=False)
            for request_id in request_ids:
                pipe.hgetall(self._keys.request(request_id))
            replies = await pipe.execute()
        found = (_request(_decoded(fields)) for fields in replies)
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
        flat = reply[1]
        fields = {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}
        return Opening(Claim(_text(reply[0])), _request(fields))

    async def release_signing(self, request_id: str, user: str) -> None:
        with store_errors("releasing a signing slot"):
            await self._redis.hdel(self._keys.request(request_id), f"slot:{user}")

    async def _record(
        self,
        request_id: str,
        signature: Signature,
        attempt: SubmitAttempt | None,
        lease_until: datetime | None,
    ) -> Claim:
        k = self._keys
        n = shard_of(request_id)
        with store_errors("recording a signature"):
            reply = await self._sign(
                keys=[
                    k.request(request_id),
                    k.request_expiry(n),
                    k.request_reminders(n),
                    k.request_submitting(n),
                ],
                args=[
                    request_id,
                    signature.signer.slack_id,
                    _dumps(_signature_doc(signature)),
                    signature.decision.value,
                    "" if attempt is None else _dumps(_attempt_doc(attempt)),
                    "" if attempt is None else attempt.attempt_id,
                    "" if lease_until is None else _ms(lease_until),
                ],
            )
        return Claim(_text(reply))

    async def begin_approval(
        self, request_id: str, signature: Signature, attempt: SubmitAttempt, lease_until: datetime
    ) -> Claim:
        return await self._record(request_id, signature, attempt, lease_until)

    async def record_rejection(self, request_id: str, signature: Signature) -> Claim:
        return await self._record(request_id, signature, None, None)

    async def finish_submit(
        self,
        request_id: str,
        attempt_id: str,
        outcomes: Sequence[PageOutcome],
        *,
        poller: str,
        poll_at: datetime,
        interval_seconds: float,
        note: str | None = None,
    ) -> bool:
        k = self._keys
        n = shard_of(request_id)
        with store_errors("recording a submit"):
            done = await self._finish(
                keys=[
                    k.request(request_id),
                    k.request_submitting(n),
                    k.request_tracking(n),
                    k.request_expiry(n),
                    k.request_reminders(n),
                ],
                args=[
                    request_id,
                    attempt_id,
                    _dumps([_outcome_doc(outcome) for outcome in outcomes]),
                    poller,
                    _ms(poll_at),
                    repr(float(interval_seconds)),
                    note or "",
                ],
            )
        return bool(done)

    async def fail_submit(self, request_id: str, attempt_id: str, error: str) -> bool:
        k = self._keys
        n = shard_of(request_id)
        with store_errors("recording a failed submit"):
            done = await self._fail(
                keys=[k.request(request_id), k.request_submitting(n)],
                args=[request_id, attempt_id, error or "the submit failed"],
            )
        return bool(done)

    async def note_error(self, request_id: str, attempt_id: str, error: str) -> bool:
        with store_errors("noting a submit error"):
            done = await self._note(
                keys=[self._keys.request(request_id)], args=[attempt_id, error or "unknown"]
            )
        return bool(done)

    async def stuck_submits(self, now: datetime) -> list[str]:
        return await self._due(self._keys.request_submitting, now, "listing stuck submits")

    async def reclaim_submit(
        self, request_id: str, now: datetime, attempt_id: str, lease_until: datetime
    ) -> SubmitAttempt | None:
        k = self._keys
        n = shard_of(request_id)
        with store_errors("taking over a stuck submit"):
            raw = await self._reclaim(
                keys=[k.request(request_id), k.request_submitting(n)],
                args=[request_id, _ms(now), attempt_id, _ms(lease_until)],
            )
        if raw is None:
            return None
        attempt = _attempt(json.loads(raw))
        return SubmitAttempt(attempt_id, attempt.signer, attempt.started_at, attempt.page_ids)

    async def pending_ids(self) -> list[str]:
        with store_errors("listing pending requests"):
            pipe = self._redis.pipeline(transaction=False)
            for n in shards():
                pipe.zrange(self._keys.request_expiry(n), 0, -1, withscores=True)
            replies = await pipe.execute()
        # Each shard is in expiry order; merged, the whole list is too, as on one index.
        merged = sorted((score, _text(i)) for reply in replies for i, score in reply)
        return [request_id for _, request_id in merged]

    async def due_expiry(self, now: datetime) -> list[str]:
        return await self._due(self._keys.request_expiry, now, "listing expiring requests")

    async def expire(self, request_id: str, now: datetime) -> bool:
        k = self._keys
        n = shard_of(request_id)
        with store_errors("expiring a request"):
            done = await self._expire(
                keys=[k.request(request_id), k.request_expiry(n), k.request_reminders(n)],
                args=[request_id, _ms(now)],
            )
        return bool(done)

    async def due_reminders(self, now: datetime) -> list[str]:
        return await self._due(self._keys.request_reminders, now, "listing reminders")

    async def claim_reminder(self, request_id: str) -> bool:
        k = self._keys
        n = shard_of(request_id)
        with store_errors("claiming a reminder"):
            done = await self._remind(
                keys=[k.request(request_id), k.request_reminders(n)], args=[request_id]
            )
        return bool(done)

    async def due_tracking(self, now: datetime) -> list[str]:
        return await self._due(self._keys.request_tracking, now, "listing tracked requests")

    async def claim_tracking(
        self, request_id: str, now: datetime, until: datetime
    ) -> Tracked | None:
        k = self._keys
        n = shard_of(request_id)
        with store_errors("claiming a tracking poll"):
            flat = await self._track_claim(
                keys=[k.request_tracking(n), k.request(request_id)],
                args=[request_id, _ms(now), _ms(until)],
            )
        if flat is None:
            return None
        fields = {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}
        request = _request(fields)
        if request is None or not fields.get("poller"):
            return None
        return Tracked(request, fields["poller"], float(fields.get("interval") or 0))

    async def update_tracking(
        self,
        request_id: str,
        rollup_state: str | None,
        interval_seconds: float,
        next_poll_at: datetime | None,
    ) -> bool:
        k = self._keys
        n = shard_of(request_id)
        with store_errors("recording a review state"):
            done = await self._track_update(
                keys=[k.request(request_id), k.request_tracking(n)],
                args=[
                    request_id,
                    rollup_state or "",
                    repr(float(interval_seconds)),
                    "" if next_poll_at is None else _ms(next_poll_at),
                ],
            )
        return bool(done)

    async def add_watch(self, watch: Watch) -> None:
        document = {"admin": watch.admin, "channel": watch.channel, "since": _iso(watch.since)}
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
            watches.append(Watch(space, data["admin"], data["channel"], _time(data["since"])))
        return watches

    async def claim_seen(self, space_id: str, change_set_id: str) -> bool:
        with store_errors("claiming a change set"):
            added = await self._redis.sadd(self._keys.request_seen(space_id), change_set_id)
        return bool(added)

    async def forget_seen(self, space_id: str, change_set_id: str) -> None:
        with store_errors("forgetting a change set"):
            await self._redis.srem(self._keys.request_seen(space_id), change_set_id)

    async def _due(self, index: Callable[[int], str], now: datetime, what: str) -> list[str]:
        """The ids due by `now` in every shard of one index, earliest first, at most _BATCH."""
        with store_errors(what):
            pipe = self._redis.pipeline(transaction=False)
            for n in shards():
                pipe.zrangebyscore(index(n), "-inf", _ms(now), start=0, num=_BATCH, withscores=True)
            replies = await pipe.execute()
        merged = sorted((score, _text(i)) for reply in replies for i, score in reply)
        return [request_id for _, request_id in merged[:_BATCH]]


# --- the documents ---------------------------------------------------------------------------


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(when: datetime) -> int:
    """Epoch milliseconds, exactly (no float rounding)."""
    return (when - _EPOCH) // timedelta(milliseconds=1)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _decoded(fields: dict[Any, Any]) -> dict[str, str]:
    return {_text(name): _text(value) for name, value in fields.items()}


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
    """What never changes after creation (the rest are hash fields of their own)."""
    return {
        "id": request.id,
        "target": _target_doc(request.target),
        "title": request.title,
        "requester": request.requester,
        "reviewers": list(request.reviewers),
        "reviewer_groups": list(request.reviewer_groups),
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
    }


def _signature(data: dict[str, Any]) -> Signature:
    return Signature(
        signer=Signer(**data["signer"]),
        decision=Decision(data["decision"]),
        meaning=data["meaning"],
        comment=data["comment"],
        signed_at=_time(data["signed_at"]),
        snapshot_digest=data["snapshot_digest"],
    )


def _attempt_doc(attempt: SubmitAttempt) -> dict[str, Any]:
    return {
        "id": attempt.attempt_id,
        "signer": _signer_doc(attempt.signer),
        "started_at": _iso(attempt.started_at),
        "page_ids": list(attempt.page_ids),
    }


def _attempt(data: dict[str, Any]) -> SubmitAttempt:
    return SubmitAttempt(
        attempt_id=data["id"],
        signer=Signer(**data["signer"]),
        started_at=_time(data["started_at"]),
        page_ids=tuple(data["page_ids"]),
    )


def _outcome_doc(outcome: PageOutcome) -> dict[str, Any]:
    return {
        "page_id": outcome.page_id,
        "title": outcome.title,
        "submitted": outcome.submitted,
        "reason": outcome.reason,
    }


def _request(fields: dict[str, str]) -> ApprovalRequest | None:
    if "doc" not in fields:
        return None
    doc = json.loads(fields["doc"])
    signatures = sorted(
        (_signature(json.loads(value)) for name, value in fields.items() if name[:4] == "sig:"),
        key=lambda s: (s.signed_at, s.signer.slack_id),
    )
    outcomes = json.loads(fields["outcomes"]) if fields.get("outcomes") else []
    return ApprovalRequest(
        id=doc["id"],
        target=_target(doc["target"]),
        title=doc["title"],
        requester=doc["requester"],
        reviewers=tuple(doc["reviewers"]),
        reviewer_groups=tuple(doc["reviewer_groups"]),
        channel=doc["channel"],
        created_at=_time(doc["created_at"]),
        expires_at=_time(doc["expires_at"]),
        snapshot=_snapshot(doc["snapshot"]),
        status=Status(fields["status"]),
        message_ts=fields.get("ts") or doc.get("message_ts"),
        summary=doc.get("summary"),
        reference_url=doc.get("reference_url"),
        signatures=tuple(signatures),
        outcomes=tuple(PageOutcome(**outcome) for outcome in outcomes),
        last_error=fields.get("err") or None,
        rollup_state=fields.get("rollup") or None,
        reminded=fields.get("reminded") == "1",
        source=doc.get("source", "command"),
        extra=dict(doc.get("extra") or {}),
    )
