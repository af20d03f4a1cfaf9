"""A lean HTTP/1.1 client for benchmark load: pre-built requests on kept-alive connections."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_CHUNKS = 10_000


@dataclass(frozen=True)
class Answer:
    """One response: its status, its body and whether the server closes the connection."""

    status: int
    body: bytes
    closing: bool

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


async def read_response(reader: asyncio.StreamReader) -> Answer:
    """Read one HTTP/1.1 response (Content-Length, chunked, or until the server closes)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, header_block = head.partition(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    length: int | None = None
    chunked = closing = False
    for line in header_block.split(b"\r\n"):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            closing = b"close" in value.lower()
    if length is not None:
        body = await reader.readexactly(length)
    elif chunked:
        chunks = []
        for _ in range(MAX_CHUNKS):
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunks.append((await reader.readexactly(size + 2))[:-2])
            if size == 0:
                break
        body = b"".join(chunks)
    else:
        body = await reader.read()  # the body runs until the server closes
        closing = True
    return Answer(status, body, closing)


def post_request(url: str, body: str, headers: dict[str, str]) -> bytes:
    """A complete HTTP/1.1 POST of `body` to `url`, ready to be written as it is."""
    parts = urlsplit(url)
    lines = [
        f"POST {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
        f"Host: {parts.netloc}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    encoded = body.encode()
    lines.append(f"Content-Length: {len(encoded)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + encoded


@dataclass
class Connection:
    """One kept-alive connection to a server, used by one request at a time."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = field(default_factory=time.monotonic)

    async def exchange(self, request: bytes) -> Answer:
        """Write the request and read its response; the caller took any timestamps around."""
        self.writer.write(request)
        return await read_response(self.reader)

    def close(self) -> None:
        self.writer.close()


class LeanClient:
    """Kept-alive connections to one server, reused last-in first-out: no pool to scan and no
    request objects (a request is the bytes `post_request` made). An idle connection goes after
    `keepalive_s`, before the server's own keep-alive could close it under a request."""

    def __init__(self, url: str, *, timeout: float, keepalive_s: float) -> None:
        parts = urlsplit(url)
        self.url = url
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        self.keepalive_s = keepalive_s
        self._idle: list[Connection] = []

    async def connection(self) -> Connection:
        """An idle connection, or a new one."""
        while self._idle:
            conn = self._idle.pop()
            if time.monotonic() - conn.idle_since < self.keepalive_s:
                return conn
            conn.close()
        async with asyncio.timeout(self.timeout):
            reader, writer = await asyncio.open_connection(self.host, self.port)
        return Connection(reader, writer)

    async def exchange(self, conn: Connection, request: bytes) -> Answer:
        """Send a request on `conn` (from `connection()`) and read the answer; the connection
        goes back for reuse unless the server closes it or the exchange failed."""
        try:
            async with asyncio.timeout(self.timeout):
                answer = await conn.exchange(request)
        except BaseException:
            conn.close()
            raise
        if answer.closing:
            conn.close()
        else:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        return answer

    async def post(self, path: str, body: str, headers: dict[str, str]) -> Answer:
        """POST `body` to `path` on this server."""
        conn = await self.connection()
        return await self.exchange(conn, post_request(self.url + path, body, headers))

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
