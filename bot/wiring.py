"""The composition root: builds every client, store and service; nothing else connects."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from redis.asyncio.cluster import RedisCluster
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.embedded_redis import EmbeddedRedis
from bot.http_transport import AiohttpExchange
from bot.jobs import Job, JobRunner
from bot.metrics import Metrics
from bot.playground import Playground, SlackAccess, make_playground, slack_access
from bot.policies import load_policies
from bot.slack.api import SlackApi
from bot.slack.client import TIMEOUT_SECONDS, web_client
from bot.slack.enrolment import SlackEnrolmentDms
from bot.slack.notices import (
    SlackLinkNotices,
    SlackNotifier,
    SlackSecurityAlerts,
    SlackTokenAdminNotices,
)
from bot.slack.pacing import Pacer
from bot.slack.people import SlackDirectory, SlackGroupMembers, SlackMemberNames
from bot.slack.requests import SlackRequestPublisher
from bot.slack.sandbox_note import note_acks
from bot.slack.surfaces import SlackSurfacesAdapter
from bot.stores.approval_token import RedisTokenStore
from bot.stores.audit import RedisAuditLog
from bot.stores.basic import RedisBookmark, RedisHealth, RedisLeases
from bot.stores.client import RedisClient, RedisEndpoint, connect_redis
from bot.stores.cluster_state import RedisClusterHealth
from bot.stores.installation import RedisInstallation
from bot.stores.keys import Keys
from bot.stores.linking import RedisGrantStore, RedisLinkStates
from bot.stores.pacing import RedisPaceSlots
from bot.stores.requests import RedisRequestStore
from bot.token_jobs import ApprovalTokenJobs
from emulators.approvalflow import SandboxState
from emulators.approvalflow.seed import SITE_URL as SANDBOX_SITE_URL
from handlers.deps import HandlerDeps
from handlers.register import register_all
from services.admin import (
    AdminAccess,
    AdminServices,
    AuditReview,
    SealedLinkRoster,
    TokenAdmin,
    TokenInventory,
)
from services.after_answer import InOrderAfterAnswer
from services.approval_token import ApprovalTokens
from services.approvalflow.client import (
    MAX_CONNECTIONS,
    ApprovalFlowClient,
    ApprovalFlowSettings,
)
from services.audit.keys import AuditKeyring
from services.audit.trail import AuditTrail
from services.clock import SystemClock
from services.confluence import ConfluenceClient, ConfluenceSettings
from services.evidence import EvidenceReports
from services.evidence.pdf import PdfEvidenceRenderer
from services.evidence.service import EvidenceSettings
from services.linking import (
    AccountLinking,
    AtlassianEndpoints,
    AtlassianOAuth,
    ClientCredentials,
    SealedGrants,
    TokenVault,
)
from services.outbound_tls import shared_tls_context
from services.ports import Clock, Directory, StoreHealth
from services.requests.identities import LinkIdentities
from services.requests.policies import PolicyBook
from services.requests.service import Requests
from services.requests.settings import RequestSettings
from services.secretbox import SecretBox
from services.workspace import CheckedDirectory, WorkspaceChanges

log = logging.getLogger(__name__)

SLACK_CONNECTIONS = 100  # open at once to the Web API; further calls wait for a free one
# Sandbox mode: the sandbox is mounted here in the bot's own web app (bot/web.py).
SANDBOX_MOUNT = "/sandbox"
SANDBOX_CLIENT_ID = "approvals-bot-sandbox"
SANDBOX_CLIENT_SECRET = "approvals-bot-sandbox-secret"  # noqa: S105 - the sandbox's, not a secret
IDLE_LINK_REFRESH_SECONDS = 6 * 3600
# Everyone holding a token or a link is looked up in Slack, for a deactivation whose
# user_change event never reached the bot: a batch an hour (CHECK_PEOPLE_BATCH, paced at
# SLACK_LOOKUP_INTERVAL_SECONDS), in turn.
CHECK_PEOPLE_JOB, CHECK_PEOPLE_SECONDS = "check-deactivated-people", 3600
# Approval Token jobs: an unconfirmed enrolment's QR leaves the DM within a minute of its 10
# minutes; expiry reminders (7 days and 1 day before) need no finer grain than an hour.
EXPIRE_ENROLMENTS_JOB, EXPIRE_ENROLMENTS_SECONDS = "expire-enrolments", 60
TOKEN_REMINDERS_JOB, TOKEN_REMINDERS_SECONDS = "token-expiry-reminders", 3600
# Approval requests: these jobs run every POLL_INTERVAL_SECONDS (the service backs off the
# tracking polls of each request by itself), but for the recovery of interrupted submits.
EXPIRE_REQUESTS_JOB = "expire-requests"
REQUEST_REMINDERS_JOB = "request-reminders"
TRACK_REVIEWS_JOB = "track-reviews"
WATCHED_SPACES_JOB = "watched-spaces"
ESCALATIONS_JOB = "request-escalations"
RECOVER_SUBMITS_JOB = "recover-submits"  # every SUBMIT_LEASE_SECONDS / 3
# ApprovalFlow in sandbox mode: the sandbox accepts any app and environment id.
SANDBOX_APP_ID = SANDBOX_ENV_ID = "sandbox"


@dataclass
class Container:
    """Everything a running bot holds; built once by `build`, closed when it exits."""

    settings: Settings
    redis: RedisClient
    keys: Keys
    clock: Clock
    box: SecretBox
    health: StoreHealth
    leases: RedisLeases
    audit_keys: AuditKeyring
    audit_log: RedisAuditLog
    audit: AuditTrail
    metrics: Metrics
    slack: AsyncWebClient
    slack_api: SlackApi
    job_slack: SlackApi  # the jobs' twin: posts and updates paced (bot/slack/pacing.py)
    installation: RedisInstallation  # whether Slack still accepts the token (lifecycle events)
    slack_access: SlackAccess  # the token, signing secret and API URL in use (or the playground's)
    bolt: AsyncApp
    jobs: JobRunner
    sandbox: SandboxState | None  # sandbox mode only; tests arrange and inspect it
    playground: Playground | None  # playground mode only (no Slack credentials)
    linking: AccountLinking
    vault: TokenVault
    tokens: ApprovalTokens
    approvalflow: ApprovalFlowClient
    requests: Requests
    after_answer: InOrderAfterAnswer  # a signature's Slack news, sent after the signer's answer
    evidence: EvidenceReports
    store_description: str


# slack_sdk logs every request and response body at DEBUG unless its logger's own level is
# above DEBUG. The enrolment DM carries the setup key, so it is sent through a client whose
# logger is pinned at INFO: the key never reaches a log line, whatever LOG_LEVEL says.
_SECRET_CALLS = logging.getLogger("bot.slack.secret_calls")
_SECRET_CALLS.setLevel(logging.INFO)


async def make_slack_clients(
    access: SlackAccess, stack: AsyncExitStack, *, sandbox: bool
) -> tuple[AsyncWebClient, SlackApi]:
    """The Web API client (Bolt's too) and the adapter over it and its quiet twin, sharing one
    aiohttp session closed with the stack. Without a session of its own, slack_sdk opens a
    session and a new connection for every call (measured: about a third of the CPU an
    approval's three Slack calls cost; bench/approve.py)."""
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=SLACK_CONNECTIONS, keepalive_timeout=30, ssl=shared_tls_context()
        ),
        # slack_sdk applies its own timeout only to sessions it opens itself: with ours, every
        # call would wait aiohttp's default five minutes.
        timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
    )
    stack.push_async_callback(session.close)
    client = web_client(access.bot_token, access.api_url, session)
    quiet = web_client(access.bot_token, access.api_url, session, logger=_SECRET_CALLS)
    return client, SlackApi(client, quiet=quiet, sandbox=sandbox)


def make_bolt_app(signing_secret: str, client: AsyncWebClient, deps: HandlerDeps) -> AsyncApp:
    """The Bolt app with every listener; in sandbox mode its acks carry the sandbox note."""
    # Bolt turns on its OAuth install flow when these are in the environment; this bot is a
    # single-workspace app with a static bot token, so hide them while the app is built.
    # (SLACK_BOT_TOKEN too: the client we pass already carries it, and Bolt warns otherwise.)
    hidden = {
        name: os.environ.pop(name)
        for name in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_BOT_TOKEN")
        if name in os.environ
    }
    try:
        app = AsyncApp(
            client=client,
            signing_secret=signing_secret,
            process_before_response=False,
            raise_error_for_unhandled_request=False,
            # bot/slack_edge.py verifies every HTTP request's signature on the bytes Slack
            # signed, before it re-encodes bodies Bolt would misread; Socket Mode needs none.
            request_verification_enabled=False,
        )
    finally:
        os.environ.update(hidden)

    if deps.sandbox:
        note_acks(app)
    register_all(app, deps)
    return app


async def connect_store(settings: Settings, stack: AsyncExitStack) -> tuple[RedisClient, str]:
    """The Redis client: REDIS_URL (one server or a cluster), or an embedded redis-server
    stopped when the stack closes."""
    endpoint = settings.redis_endpoint
    if endpoint is None:
        embedded = EmbeddedRedis(settings.DATA_DIR)
        url = await embedded.start()
        stack.push_async_callback(embedded.stop)
        endpoint = RedisEndpoint(
            url, cluster=False, description=f"embedded redis-server (data in {embedded.data_dir})"
        )
    redis = connect_redis(endpoint)
    stack.push_async_callback(redis.aclose)
    return redis, endpoint.description


def store_health(redis: RedisClient) -> StoreHealth:
    """A cluster is healthy only while it serves every slot; one server while it answers."""
    if isinstance(redis, RedisCluster):
        return RedisClusterHealth(redis)
    return RedisHealth(redis)


def atlassian_endpoints(settings: Settings) -> AtlassianEndpoints:
    """Live: the configured hosts. Sandbox: the sandbox mounted in this app, called by the bot
    over loopback and opened by the browser at the redirect URI's origin, unless
    ATLASSIAN_AUTH_URL / ATLASSIAN_API_URL were set explicitly (tests point them elsewhere)."""
    auth = settings.ATLASSIAN_AUTH_URL.rstrip("/")
    api = settings.ATLASSIAN_API_URL.rstrip("/")
    if settings.live:
        return AtlassianEndpoints(f"{auth}/authorize", f"{auth}/oauth/token", api)
    explicit = settings.model_fields_set
    local = f"http://127.0.0.1:{settings.PORT}{SANDBOX_MOUNT}"
    origin = urlsplit(settings.redirect_uri)
    browser = f"{origin.scheme}://{origin.netloc}{SANDBOX_MOUNT}"
    return AtlassianEndpoints(
        authorize_url=f"{auth if 'ATLASSIAN_AUTH_URL' in explicit else browser}/authorize",
        token_url=f"{auth if 'ATLASSIAN_AUTH_URL' in explicit else local}/oauth/token",
        api_url=api if "ATLASSIAN_API_URL" in explicit else local,
    )


def atlassian_client(settings: Settings) -> ClientCredentials:
    if settings.live and settings.ATLASSIAN_CLIENT_ID and settings.ATLASSIAN_CLIENT_SECRET:
        secret = settings.ATLASSIAN_CLIENT_SECRET.get_secret_value()
        return ClientCredentials(settings.ATLASSIAN_CLIENT_ID, secret, settings.redirect_uri)
    # The sandbox checks the secret too, so a test can set one and look for it where it must
    # never be (the store, the logs).
    secret = SANDBOX_CLIENT_SECRET
    if settings.ATLASSIAN_CLIENT_SECRET is not None:
        secret = settings.ATLASSIAN_CLIENT_SECRET.get_secret_value()
    return ClientCredentials(SANDBOX_CLIENT_ID, secret, settings.redirect_uri)


def confluence_site_url(settings: Settings) -> str:
    return settings.CONFLUENCE_SITE_URL or SANDBOX_SITE_URL


def make_sandbox(settings: Settings, clock: Clock) -> SandboxState | None:
    if settings.live:
        return None
    client = atlassian_client(settings)
    return SandboxState(
        clock=clock,
        persist_path=settings.DATA_DIR / "sandbox.json",
        clients={client.client_id: client.client_secret},
    )


def make_linking(
    settings: Settings,
    *,
    redis: RedisClient,
    keys: Keys,
    clock: Clock,
    box: SecretBox,
    leases: RedisLeases,
    audit: AuditTrail,
    notifier: SlackNotifier,
    directory: Directory,
) -> tuple[AccountLinking, TokenVault]:
    """Account linking and the token vault, sharing one Atlassian client and grant store."""
    endpoints = atlassian_endpoints(settings)
    atlassian = AtlassianOAuth(endpoints, atlassian_client(settings))
    log.info(
        "atlassian",
        extra={
            "token_url": endpoints.token_url,
            "api_url": endpoints.api_url,
            "site": confluence_site_url(settings),
        },
    )
    grants = SealedGrants(RedisGrantStore(redis, keys), box)
    notices = SlackLinkNotices(notifier)
    linking = AccountLinking(
        atlassian=atlassian,
        grants=grants,
        states=RedisLinkStates(redis, keys),
        clock=clock,
        directory=directory,
        notices=notices,
        auditor=audit,
        site_url=confluence_site_url(settings),
        require_email_match=settings.REQUIRE_EMAIL_MATCH,
    )
    vault = TokenVault(
        atlassian=atlassian,
        grants=grants,
        leases=leases,
        clock=clock,
        notices=notices,
        auditor=audit,
    )
    return linking, vault


def make_approval_tokens(
    settings: Settings,
    *,
    redis: RedisClient,
    keys: Keys,
    clock: Clock,
    box: SecretBox,
    audit: AuditTrail,
    notifier: SlackNotifier,
) -> tuple[ApprovalTokens, SlackSecurityAlerts]:
    """The Approval Token service and the Slack alerts it raises (also used by /approvals lost)."""
    alerts = SlackSecurityAlerts(notifier)
    tokens = ApprovalTokens(
        store=RedisTokenStore(redis, keys),
        box=box,
        clock=clock,
        auditor=audit,
        alerts=alerts,
        validity_days=settings.TOKEN_VALIDITY_DAYS,
        max_failures=settings.TOTP_MAX_FAILURES,
        lockout_minutes=settings.TOTP_LOCKOUT_MINUTES,
    )
    return tokens, alerts


def make_admin(
    settings: Settings,
    *,
    redis: RedisClient,
    keys: Keys,
    clock: Clock,
    box: SecretBox,
    audit: AuditTrail,
    audit_log: RedisAuditLog,
    audit_keys: AuditKeyring,
    tokens: ApprovalTokens,
    slack: SlackApi,
    notifier: SlackNotifier,
    directory: Directory,
) -> AdminServices:
    """The admin check, the token inventory and its actions, and the audit review (issue 7)."""
    links = SealedLinkRoster(RedisGrantStore(redis, keys), box)
    return AdminServices(
        access=AdminAccess(
            directory=directory,
            admin_ids=frozenset(settings.ADMIN_USER_IDS),
            links=links,
            auditor=audit,
        ),
        inventory=TokenInventory(
            tokens=tokens, links=links, names=SlackMemberNames(slack), auditor=audit, clock=clock
        ),
        actions=TokenAdmin(
            tokens=tokens, auditor=audit, notices=SlackTokenAdminNotices(slack, notifier)
        ),
        audit=AuditReview(log=audit_log, keys=audit_keys, auditor=audit, clock=clock),
    )


def make_approvalflow(settings: Settings, vault: TokenVault, clock: Clock) -> ApprovalFlowClient:
    """ApprovalFlow's API as each person (their token from the vault). Sandbox: the sandbox
    mounted in this app, over loopback, like the rest of the Atlassian endpoints."""
    return ApprovalFlowClient(
        ApprovalFlowSettings(
            api_url=atlassian_endpoints(settings).api_url,
            app_id=settings.APPROVALFLOW_APP_ID or (None if settings.live else SANDBOX_APP_ID),
            env_id=settings.APPROVALFLOW_ENV_ID or (None if settings.live else SANDBOX_ENV_ID),
            base_url=settings.APPROVALFLOW_BASE_URL,
        ),
        vault,
        clock=clock,
        exchange=AiohttpExchange(connections=MAX_CONNECTIONS, tls=shared_tls_context()),
    )


def make_confluence(settings: Settings, vault: TokenVault, clock: Clock) -> ConfluenceClient:
    """Confluence v2 (page titles and versions, spaces) as each person, through the same
    gateway host as ApprovalFlow; in sandbox mode the sandbox emulates it."""
    return ConfluenceClient(
        ConfluenceSettings(api_url=atlassian_endpoints(settings).api_url),
        vault,
        clock=clock,
        exchange=AiohttpExchange(
            connections=ConfluenceClient.connections[0], tls=shared_tls_context()
        ),
    )


def make_publisher(
    settings: Settings, slack: SlackApi, groups: SlackGroupMembers
) -> SlackRequestPublisher:
    """Requests shown in Slack: the message, its thread and DMs, in handlers/' words."""
    return SlackRequestPublisher(
        slack,
        site_url=confluence_site_url(settings),
        groups=groups,
        allow_self=settings.ALLOW_SELF_APPROVAL,
    )


def make_requests(
    settings: Settings,
    *,
    policies: PolicyBook,
    groups: SlackGroupMembers,
    redis: RedisClient,
    keys: Keys,
    clock: Clock,
    audit: AuditTrail,
    slack: SlackApi,
    job_slack: SlackApi,
    api: ApprovalFlowClient,
    confluence: ConfluenceClient,
    tokens: ApprovalTokens,
    linking: AccountLinking,
    after_answer: InOrderAfterAnswer,
) -> Requests:
    """Approval requests: posted, signed and tracked through Slack. What answers a person goes
    out at once through `slack`; what the jobs post goes through `job_slack`, paced."""
    return Requests(
        store=RedisRequestStore(redis, keys),
        api=api,
        confluence=confluence,
        tokens=tokens,
        identities=LinkIdentities(linking),
        groups=groups,
        publisher=make_publisher(settings, slack, groups),
        job_publisher=make_publisher(settings, job_slack, groups),
        auditor=audit,
        clock=clock,
        settings=request_settings(settings),
        policies=policies,
        after_answer=after_answer,
    )


def request_settings(settings: Settings) -> RequestSettings:
    return RequestSettings(
        allow_self_approval=settings.ALLOW_SELF_APPROVAL,
        request_ttl_hours=settings.REQUEST_TTL_HOURS,
        reminder_hours=settings.REMINDER_HOURS,
        poll_interval_seconds=settings.POLL_INTERVAL_SECONDS,
        confluence_site_url=confluence_site_url(settings),
        submit_lease_seconds=settings.SUBMIT_LEASE_SECONDS,
    )


def make_evidence(
    settings: Settings,
    *,
    redis: RedisClient,
    keys: Keys,
    clock: Clock,
    audit: AuditTrail,
    audit_log: RedisAuditLog,
    audit_keys: AuditKeyring,
    admin: AdminServices,
) -> EvidenceReports:
    """Signature evidence reports: the PDF per request, and the check of a report file."""
    return EvidenceReports(
        requests=RedisRequestStore(redis, keys),
        log=audit_log,
        keys=audit_keys,
        auditor=audit,
        admins=admin.access,
        renderer=PdfEvidenceRenderer(),
        clock=clock,
        settings=EvidenceSettings(
            site_url=confluence_site_url(settings), sandbox=not settings.live
        ),
    )


def request_jobs(
    requests: Requests, clock: Clock, interval: float, recover_every: float
) -> list[Job]:
    async def expire() -> None:
        await requests.expire_due(clock.now())

    async def remind() -> None:
        await requests.remind_due(clock.now())

    async def track() -> None:
        await requests.track_due(clock.now())

    async def watched() -> None:
        await requests.poll_watched(clock.now())

    async def escalate() -> None:
        await requests.escalate_due(clock.now())

    async def recover() -> None:
        await requests.recover_stuck(clock.now())

    return [
        Job(EXPIRE_REQUESTS_JOB, interval, expire),
        Job(REQUEST_REMINDERS_JOB, interval, remind),
        Job(TRACK_REVIEWS_JOB, interval, track),
        Job(WATCHED_SPACES_JOB, interval, watched),
        Job(ESCALATIONS_JOB, interval, escalate),
        # Its own short period: a dead process's submit is settled seconds after its claim.
        Job(RECOVER_SUBMITS_JOB, recover_every, recover),
    ]


@asynccontextmanager
async def build(settings: Settings, *, clock: Clock | None = None) -> AsyncIterator[Container]:
    """Build the whole bot; on exit close every connection and child process it started."""
    async with AsyncExitStack() as stack:
        redis, store_description = await connect_store(settings, stack)
        keys = Keys(settings.REDIS_PREFIX)
        clock = clock or SystemClock()
        box = SecretBox(settings.encryption_keys)
        metrics = Metrics()
        leases = RedisLeases(redis, keys)
        audit_keys = AuditKeyring.from_fernet_keys(settings.encryption_keys)
        audit_log = RedisAuditLog(redis, keys, audit_keys)
        audit = AuditTrail(audit_log, clock)
        playground = await make_playground(settings, stack, sandbox_mount=SANDBOX_MOUNT)
        access = slack_access(settings, playground)
        # In sandbox mode every message says so: SlackApi adds the note to what it sends, and
        # the Bolt app to what its listeners ack (bot/slack/sandbox_note.py), nothing else.
        slack, slack_api = await make_slack_clients(access, stack, sandbox=not settings.live)
        # The jobs' posts (watched spaces, reminders, escalations, tracking, token reminders)
        # are spaced per channel and their message updates per workspace, with every process
        # on this store; answers to people go out through `slack_api` at once.
        pacer = Pacer(
            post_interval=settings.SLACK_POST_INTERVAL_SECONDS,
            update_interval=settings.SLACK_UPDATE_INTERVAL_SECONDS,
            lookup_interval=settings.SLACK_LOOKUP_INTERVAL_SECONDS,
            slots=RedisPaceSlots(redis, keys),
        )
        job_slack = slack_api.paced(pacer)
        # Drained on the way out, before the Slack clients and the store it uses are closed.
        after_answer = InOrderAfterAnswer()
        stack.push_async_callback(after_answer.drain)
        # One of each for every feature: DMs and security alerts, and users.info look-ups.
        notifier = SlackNotifier(slack_api, settings.SECURITY_CHANNEL)
        people = SlackDirectory(slack_api)
        # Every users.info look-up is also a check: a deactivated person is handed to the
        # workspace's deactivation (report_to, below) and is not found.
        directory = CheckedDirectory(people)
        enrolment_dms = SlackEnrolmentDms(slack_api, notifier)
        sandbox = make_sandbox(settings, clock)
        if sandbox is not None:
            stack.callback(sandbox.flush)
        linking, vault = make_linking(
            settings,
            redis=redis,
            keys=keys,
            clock=clock,
            box=box,
            leases=leases,
            audit=audit,
            notifier=notifier,
            directory=directory,
        )
        tokens, token_alerts = make_approval_tokens(
            settings, redis=redis, keys=keys, clock=clock, box=box, audit=audit, notifier=notifier
        )
        admin = make_admin(
            settings,
            redis=redis,
            keys=keys,
            clock=clock,
            box=box,
            audit=audit,
            audit_log=audit_log,
            audit_keys=audit_keys,
            tokens=tokens,
            slack=slack_api,
            notifier=notifier,
            directory=directory,
        )
        approvalflow = make_approvalflow(settings, vault, clock)
        stack.push_async_callback(approvalflow.aclose)
        groups = SlackGroupMembers(slack_api)
        policies = await load_policies(settings.SIGNING_POLICIES, groups.handles, groups.members)
        confluence = make_confluence(settings, vault, clock)
        stack.push_async_callback(confluence.aclose)
        requests = make_requests(
            settings,
            policies=policies,
            groups=groups,
            redis=redis,
            keys=keys,
            clock=clock,
            audit=audit,
            slack=slack_api,
            job_slack=job_slack,
            api=approvalflow,
            confluence=confluence,
            tokens=tokens,
            linking=linking,
            after_answer=after_answer,
        )
        evidence = make_evidence(
            settings,
            redis=redis,
            keys=keys,
            clock=clock,
            audit=audit,
            audit_log=audit_log,
            audit_keys=audit_keys,
            admin=admin,
        )
        installation = RedisInstallation(redis, keys, access.bot_token)
        workspace = WorkspaceChanges(
            tokens=tokens,
            linking=linking,
            links=SealedLinkRoster(RedisGrantStore(redis, keys), box),
            # The check of everyone's account is a job: its look-ups are paced.
            directory=SlackDirectory(job_slack),
            requests=RedisRequestStore(redis, keys),
            # What it says (a person deactivated, a channel closed) comes in bursts, on many
            # requests at once, and answers nobody waiting: paced like the jobs' posts.
            publisher=make_publisher(settings, job_slack, groups),
            auditor=audit,
            installation=installation,
            checked=RedisBookmark(redis, keys, CHECK_PEOPLE_JOB),
            check_batch=settings.CHECK_PEOPLE_BATCH,
        )
        directory.report_to(workspace.person_deactivated)
        deps = HandlerDeps(
            sandbox=not settings.live,
            linking=linking,
            tokens=tokens,
            token_alerts=token_alerts,
            admin=admin,
            requests=requests,
            approvals_channel=settings.APPROVALS_CHANNEL,
            evidence=evidence,
            slack=SlackSurfacesAdapter(slack_api),
            enrolment_dms=enrolment_dms,
            workspace=workspace,
            leases=leases,
        )
        bolt = make_bolt_app(access.signing_secret, slack, deps)
        jobs = JobRunner(leases, metrics, installation)

        async def refresh_idle_links() -> None:
            await vault.refresh_idle()

        async def check_people() -> None:
            await workspace.check_people()

        # Keeping grants alive is Atlassian's business: it goes on while Slack is away.
        jobs.add(
            Job(
                "refresh-idle-links",
                IDLE_LINK_REFRESH_SECONDS,
                refresh_idle_links,
                posts_to_slack=False,
            )
        )
        job_notifier = SlackNotifier(job_slack, settings.SECURITY_CHANNEL)
        jobs.add(Job(CHECK_PEOPLE_JOB, CHECK_PEOPLE_SECONDS, check_people))
        token_jobs = ApprovalTokenJobs(tokens, SlackEnrolmentDms(job_slack, job_notifier))
        for job in (
            Job(EXPIRE_ENROLMENTS_JOB, EXPIRE_ENROLMENTS_SECONDS, token_jobs.expire_enrolments),
            Job(TOKEN_REMINDERS_JOB, TOKEN_REMINDERS_SECONDS, token_jobs.remind_expiring),
        ):
            jobs.add(job)
        recover_every = request_settings(settings).recover_submits_seconds
        for job in request_jobs(requests, clock, settings.POLL_INTERVAL_SECONDS, recover_every):
            jobs.add(job)
        stack.push_async_callback(jobs.stop)
        log.info("store", extra={"uses": store_description})
        log.info(
            "slack",
            extra={
                "uses": "the playground" if playground else access.api_url,
                "socket_mode": settings.SLACK_APP_TOKEN is not None,
            },
        )
        log.info(
            "approvalflow",
            extra={"uses": "live Atlassian" if settings.live else "built-in sandbox"},
        )
        yield Container(
            settings=settings,
            redis=redis,
            keys=keys,
            clock=clock,
            box=box,
            health=store_health(redis),
            leases=leases,
            audit_keys=audit_keys,
            audit_log=audit_log,
            audit=audit,
            metrics=metrics,
            slack=slack,
            slack_api=slack_api,
            job_slack=job_slack,
            slack_access=access,
            installation=installation,
            bolt=bolt,
            jobs=jobs,
            sandbox=sandbox,
            playground=playground,
            linking=linking,
            vault=vault,
            tokens=tokens,
            approvalflow=approvalflow,
            requests=requests,
            after_answer=after_answer,
            evidence=evidence,
            store_description=store_description,
        )
