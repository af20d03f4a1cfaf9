"""Failover: a master of the cluster is killed while two bot processes take approvals; its
replica takes over, the bots carry on by themselves, and no approval or audit entry is lost or
doubled. /healthz says 503 while the slots are not all served and 200 again afterwards."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import httpx
from redis.crc import key_slot

from bot.stores.requests import RedisRequestStore
from bot.wiring import TRACK_REVIEWS_JOB
from emulators.approvalflow import reviews
from emulators.approvalflow.models import Page
from emulators.approvalflow.seed import ALICE, ENG_SPACE
from emulators.slack import FakeSlack, FakeView
from services.audit.chain import verify
from services.requests.model import Status
from testkit.redis_cluster import throwaway_cluster
from tests.scenario.cluster_kit import TwoBots, two_bots
from tests.scenario.requests_kit import Posted, Requests, view_text

SIGNERS = 8


async def setup_signers(bots: TwoBots, slack: FakeSlack) -> list[tuple[str, Posted]]:
    """Alice linked; SIGNERS people, each linked, enrolled and named on a request of their own
    (a one-page change set each)."""
    a = bots.a
    await a.link("U0ALICE")
    sandbox = a.sandbox
    world = sandbox.world
    asked: list[tuple[str, Posted]] = []
    for i in range(SIGNERS):
        user, email = f"U0SIGN{i}", f"signer{i}@example.com"
        slack.add_user(user, real_name=f"Signer {i}", email=email)
        sandbox.add_user(f"Signer {i}", email)
        page_id = str(990_000 + i)
        world.pages[page_id] = Page(id=page_id, space_id=ENG_SPACE, title=f"Failover {i}")
        reviews.create_change_set(
            world,
            ENG_SPACE,
            {"title": f"FAILOVER-{i}", "pageRefs": [{"pageId": page_id}]},
            account_id=ALICE,
            now=a.clock.now() - timedelta(hours=1),
            change_set_id=f"cs-failover{i}",
        )
        world_of = a if i % 2 else bots.b
        linked = await world_of.linking.consent(await world_of.linking.connect_url(user), email)
        assert linked.url.params.get("result") == "linked", linked.text
        tokens = a.bot.container.tokens
        enrolment = await tokens.start_enrolment(user, email)
        a.secrets[user] = enrolment.setup_key
        await tokens.activate(user, a.code(user), enrolment.enrolment_id)
        asked.append((user, await world_of.request(f"cs-failover{i} <@{user}>")))
    return asked


async def approve(world: Requests, user: str, posted: Posted) -> str:
    """Open the signing form and submit it; what the person reads afterwards."""
    form: FakeView = await world.click(user, posted.id, posted=posted)
    for _ in range(150):  # others' modals are updated meanwhile: wait for this one's
        if "Loading the pages" not in view_text(form):
            break
        await asyncio.sleep(0.1)
        [form] = world.slack.view_stack(user)
    if form.callback_id != "request_sign":  # the form could not open: it says why
        return view_text(form)
    answer = await world.submit(user, form, code=world.code(user))
    return view_text(answer["view"]) if "view" in answer else str(answer)


async def watch_health(url: str, seen: list[int], stop: asyncio.Event) -> None:
    """GET /healthz every 50 ms until stopped; each status (0: no answer)."""
    async with httpx.AsyncClient(timeout=3) as http:
        while not stop.is_set():
            try:
                seen.append((await http.get(f"{url}/healthz")).status_code)
            except httpx.TransportError:
                seen.append(0)
            await asyncio.sleep(0.05)


async def test_a_master_killed_during_approvals_loses_and_doubles_nothing(
    fake_slack: FakeSlack,
) -> None:
    with throwaway_cluster() as cluster:
        async with two_bots(fake_slack, cluster.url) as bots:
            a, b = bots.a, bots.b
            asked = await setup_signers(bots, fake_slack)
            container = a.bot.container
            # The master holding the audit chain: every approval appends to it.
            victim = cluster.master_of_slot(key_slot(container.keys.audit_head().encode()))

            urls = [a.bot.url, b.bot.url]
            seen: dict[str, list[int]] = {url: [] for url in urls}
            stop = asyncio.Event()
            watchers = [asyncio.create_task(watch_health(url, seen[url], stop)) for url in urls]

            async def one(i: int, user: str, posted: Posted) -> str:
                await asyncio.sleep(0.3 * i)
                return await approve(b if i % 2 else a, user, posted)

            runs = [asyncio.create_task(one(i, u, p)) for i, (u, p) in enumerate(asked)]
            await asyncio.wait(runs, return_when=asyncio.FIRST_COMPLETED)
            cluster.kill(victim)  # SIGKILL, mid-run: later approvals meet the failover

            answers = await asyncio.gather(*runs)
            await asyncio.to_thread(cluster.wait_ok, 30.0, 2)
            for _ in range(300):  # both bots see every slot served again, by themselves
                if all(seen[url][-1:] == [200] for url in urls):
                    break
                await asyncio.sleep(0.1)
            stop.set()
            await asyncio.gather(*watchers)

            # An approval that met the outage for longer than the client waits was refused
            # (the person read "try again"): trying again, once any signing slot or submit
            # lease it left has run out, works and signs nothing twice; the recovery job
            # finishes a submit the outage cut off.
            refused = [i for i, text in enumerate(answers) if "Signed and submitted" not in text]
            if refused:
                a.clock.advance(minutes=3)
                for i in refused:
                    user, posted = asked[i]
                    text = await approve(a, user, posted)
                    assert "Signed and submitted" in text or "already approved" in text, text
                await a.job(TRACK_REVIEWS_JOB).run()

            store = RedisRequestStore(container.redis, container.keys)
            for _, posted in asked:
                request = await store.get(posted.id)
                assert request is not None and request.status is Status.SUBMITTED, posted.id
                assert len(request.signatures) == 1
            submits = Counter(
                str(c.params.get("changeSetId") or (c.body or {}).get("changeSetId"))
                for c in a.sandbox.calls_to("submit_change_set")
            )
            assert len(submits) == SIGNERS and set(submits.values()) == {1}, submits

            entries = [entry async for entry in container.audit_log.entries()]
            assert verify(entries, await container.audit_log.head(), keys=container.audit_keys).ok
            targets = sorted(f"request:{p.id}" for _, p in asked)
            for action in ("request.signature.recorded", "request.submit.succeeded"):
                done = sorted(e.target for e in entries if e.action == action)
                assert done == targets, f"{action}: each request once, none lost"

            for url in urls:
                assert 503 in seen[url], f"{url} never said 503 while slots were down"
                assert seen[url][-1] == 200
            assert cluster.procs[victim].poll() is not None and victim not in cluster.masters()
