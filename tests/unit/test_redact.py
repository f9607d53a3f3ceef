"""Credentials never survive redaction, and ordinary evidence is left alone."""

from __future__ import annotations

import logging

import pytest

from bot.redact import RedactingFilter, fingerprint, redact

SECRETS = [
    ("password: hunter2secret", "hunter2secret"),
    ('basic_auth:\n  password: "p@ss w0rd"', "w0rd"),
    ('{"name": "DB_PASSWORD", "value": "s3cr3t value"}', "s3cr3t"),
    ("Authorization: Bearer abcdefghijklmnop1234", "abcdefghijklmnop1234"),
    ("Authorization: Basic YWRtaW46cGFzc3dvcmQ=", "YWRtaW46cGFzc3dvcmQ="),
    ("endpoint: https://admin:supersecret@prom.example/api/v1/write", "supersecret"),
    ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "IOSFODNN7EXAMPLE"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
    ("slack xoxb-123456789012-abcdefghijklmnop", "abcdefghijklmnop"),
    ("app token xapp-1-A0123456789-0123456789-abcdef", "0123456789-abcdef"),
    ('"api_key": "k-12345678"', "k-12345678"),
    ("GRAFANA_TOKEN=glsa_abcdefghijklmnopqrstuv_12345678", "abcdefghijklmnopqrstuv"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEA"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "dozjgNryP4J3jVmNHl0w5N"),
    ("client_secret: abc", "abc"),
]


@pytest.mark.parametrize("text,secret", SECRETS, ids=[text[:24] for text, _ in SECRETS])
def test_secret_is_masked(text: str, secret: str) -> None:
    cleaned = redact(text)

    assert secret not in cleaned
    assert "[redacted sha256:" in cleaned


@pytest.mark.parametrize(
    "text",
    [
        'otelcol_exporter_sent_spans_total{exporter="otlp/tempo"} 48190',
        "max_items: 50000",
        "service.pipelines.traces.exporters contains spanmetrics",
        "endpoint: http://prometheus:9090/api/v1/write",
    ],
)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert redact(text) == text


def test_marker_keeps_prefix_and_fingerprint() -> None:
    cleaned = redact("aws_access_key_id = AKIAIOSFODNN7EXAMPLE")

    assert cleaned == f"aws_access_key_id = AKIA…[redacted sha256:{fingerprint('AKIAIOSFODNN7EXAMPLE')}]"


def test_log_filter_masks_arguments() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "url %s", ("redis://:hunter2pass@redis:6379/0",), None)

    RedactingFilter().filter(record)

    assert "hunter2pass" not in record.getMessage()
