"""One TLS context shared by every outbound HTTPS client in the process."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    """httpx's default verification (certifi's CA bundle; SSL_CERT_FILE or SSL_CERT_DIR when
    set), built on first use. Building one loads the whole CA bundle, about 80 ms of CPU, and a
    client builds its own unless given one: per OAuth call and per connection pool that was most
    of the CPU a link or a container start cost. A context is safe to share between clients."""
    return httpx.create_ssl_context()
