"""The HTTP app: the Web API's dispatch, uploads and downloads, served on a port or mounted."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from emulators.slack.methods import METHODS
from emulators.slack.rate_limits import fault_reply
from emulators.slack.records import Call, JSONDict, Reply, SlackFailure
from emulators.slack.response_urls import ResponseUrls
from emulators.slack.wire import headers_of, merged_args, peer_of


class HttpApp(ResponseUrls):
    """The emulator served over HTTP: routes, start and stop, and the Web API's dispatch."""

    _server: _Server | None = None
    _serving: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- lifecycle

    def routes(self) -> list[Route]:
        """The Web API at /api/{method}, upload URLs, file downloads and response_urls."""
        return [
            Route("/api/{method}", self._api, methods=["GET", "POST"]),
            Route("/upload/v1/{file_id}/{secret}", self._upload, methods=["POST"]),
            Route("/files-pri/{file_id}/{name}", self._download, methods=["GET"]),
            Route("/response/{token}", self._response_url, methods=["POST"]),
        ]

    def mount_at(self, base_url: str) -> Self:
        """Served by someone else's web app under `base_url` (the bot's playground)."""
        self._base_url = base_url.rstrip("/")
        return self

    async def start(self) -> Self:
        """Serve on 127.0.0.1 with an ephemeral port."""
        # IPPROTO_TCP spelled out: asyncio turns Nagle off only on sockets that name it, and
        # with Nagle on, an answer's body waits for the ack of its headers (40 ms per call on a
        # kept-alive connection).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            Starlette(routes=self.routes()),
            lifespan="off",
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=1,
        )
        server = _Server(config)
        self._serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if self._serving.done():
                self._serving.result()  # raises what stopped it
            await asyncio.sleep(0.005)
        self._server = server
        self._base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self

    async def stop(self) -> None:
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving
        self._server = self._serving = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def run_in_thread(self) -> Iterator[Self]:
        """Serve from a background thread with its own event loop (benchmarks, subprocesses)."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        async def boot() -> None:
            try:
                await self.start()
            except BaseException as exc:  # surfaced in the calling thread below
                failure.append(exc)
            finally:
                ready.set()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(boot())
            loop.run_forever()

        thread = threading.Thread(target=serve, name="fake-slack", daemon=True)
        thread.start()
        ready.wait(10)
        try:
            if failure:
                raise failure[0]
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    # ---------------------------------------------------------------- HTTP plumbing

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        at = self.clock.now()
        try:
            args = await merged_args(request)
        except ValueError:
            reply = Reply({"ok": False, "error": "invalid_json"})
            args = {}
        else:
            reply = await self._answer(method, args, request)
        self._record(
            Call(
                method,
                args,
                headers_of(request),
                at,
                request.method,
                reply.status,
                reply.body,
                peer=peer_of(request),
            )
        )
        headers = {"x-oauth-scopes": ",".join(self.scopes), **reply.headers}
        return JSONResponse(reply.body, status_code=reply.status, headers=headers)

    async def _answer(self, method: str, args: JSONDict, request: Request) -> Reply:
        latency = self._latency.get(method, self._latency.get("*", 0.0))
        if latency:
            await asyncio.sleep(latency)
        fault = self._take_fault(method)
        if fault is not None:
            return fault_reply(fault)
        auth_error = self._auth_error(request, args)
        if auth_error:
            return Reply({"ok": False, "error": auth_error})
        handler = METHODS.get(method)
        stub = self._stubs.get(method)
        try:
            if stub is not None:
                body = stub(args) if callable(stub) else dict(stub)
                return Reply({"ok": True, **body})
            if handler is None:
                return Reply({"ok": False, "error": "unknown_method"})
            with self._lock:
                return handler(self, args)
        except SlackFailure as failure:
            return Reply({"ok": False, "error": failure.error, **failure.extra})

    def _auth_error(self, request: Request, args: JSONDict) -> str | None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header else str(args.get("token", ""))
        if not token:
            return "not_authed"
        if token in self.revoked_tokens:
            return "token_revoked"
        if self.valid_tokens is not None:
            return None if token in self.valid_tokens else "invalid_auth"
        return None if token.startswith("xoxb-") else "invalid_auth"

    # ---------------------------------------------------------------- non-API endpoints

    async def _upload(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        body = await request.body()
        at = self.clock.now()
        fault = self._take_fault("file_upload")
        with self._lock:
            file = self.files.get(file_id)
            valid = (
                file is not None
                and self._upload_secrets.get(file_id) == request.path_params["secret"]
            )
            if file is not None and valid and fault is None:
                file.content = body
        status = fault.status if fault else 200 if valid else 404
        args = {"file_id": file_id, "length": len(body)}
        self._record(Call("file_upload", args, headers_of(request), at, "POST", status))
        if status != 200:
            reason = fault.error if fault else "upload URL not found"
            return PlainTextResponse(reason, status_code=status)
        # Slack answers the upload URL in plain text; the SDK only looks at the status.
        return PlainTextResponse(f"OK - {len(body)}")

    async def _download(self, request: Request) -> Response:
        if self._auth_error(request, {}):
            return PlainTextResponse("not authorized", status_code=401)
        file = self.files.get(request.path_params["file_id"])
        if file is None or file.deleted or file.content is None:
            return PlainTextResponse("file not found", status_code=404)
        return Response(file.content, media_type=file.mimetype)


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the process that starts the emulator owns those."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
