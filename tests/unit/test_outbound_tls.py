"""Outbound HTTPS clients share one TLS context, and it still verifies every server."""

from __future__ import annotations

import ssl

from services.outbound_tls import shared_tls_context


def test_one_context_for_every_client_and_it_verifies_certificates_and_hostnames() -> None:
    context = shared_tls_context()
    assert context is shared_tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0  # the CA bundle is loaded
