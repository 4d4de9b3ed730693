"""TLS settings of the client's HTTP sessions: https verifies as httpx's default does; http trusts nothing."""

from __future__ import annotations

import ssl

import httpx

from huddle_tui.api import tls_for


def test_https_verifies_with_the_default_trust_loaded_once() -> None:
    context = tls_for("https://chat.example.com")
    default = httpx.create_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == default.cert_store_stats()["x509_ca"] > 0
    assert tls_for("HTTPS://other.example.com:8443") is context  # loaded once per process


def test_plain_http_gets_a_context_that_accepts_no_certificate() -> None:
    context = tls_for("http://127.0.0.1:8080")
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 0
