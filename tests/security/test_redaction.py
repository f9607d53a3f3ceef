"""Credentials are masked wherever the bot quotes what it read: rules, evidence values and log records.

The planted values are fakes in the shapes of real credentials.
"""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot.checks.base import short
from bot.logs import JsonFormatter
from bot.checks.base import Assertion, evaluate_assertions, short
from bot.redact import RedactingFilter, fingerprint, redact, redact_document
from bot.selection import clean_request_text, clean_text

# (text, the part that must not survive)
CREDENTIALS = [
    ("headers:\n  Authorization: Bearer prw-header-token-7f3a9c2e1b", "prw-header-token-7f3a9c2e1b"),
    ("basic_auth:\n  username: otel\n  password: basic-pass-Q9w8e7r6", "basic-pass-Q9w8e7r6"),
    ('secureJsonData: {"basicAuthPassword": "grafana-pw-5t4r3e", "httpHeaderValue1": "Bearer glsa_grafanaHeader0123456789ab"}', "grafana-pw-5t4r3e"),
    ('secureJsonData: {"basicAuthPassword": "grafana-pw-5t4r3e", "httpHeaderValue1": "Bearer glsa_grafanaHeader0123456789ab"}', "grafanaHeader0123456789ab"),
    ('{"name": "AWS_ACCESS_KEY_ID", "value": "AKIAQWERTYUIOPASDFGH"}', "QWERTYUIOPASDFGH"),
    ('{"name": "AWS_SECRET_ACCESS_KEY", "value": "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"}', "wJalrXUtnFEMI"),
    ("xoxe-1-My0xZXlK-abcdefghijklmnop", "abcdefghijklmnop"),
    ("SLACK_WEBHOOK=https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", "XXXXXXXXXXXXXXXXXXXXXXXX"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz"),
    ("maps key AIzaSyA-1234567890abcdefghijklmnopqrstu", "1234567890abcdefghijklmnopqrstu"),
    ("Cookie: grafana_session=0123456789abcdef0123", "0123456789abcdef0123"),
    ("GET /bucket?X-Amz-Signature=abcdef0123456789abcdef", "abcdef0123456789abcdef"),
    ("passphrase: correct horse battery", "horse battery"),
    ("eyJrIjoiT0tTcG1pUlY2RnVKZTFVaDFsNFZXdE9ZWmNrMkZYbk", "T0tTcG1pUlY2RnVKZTFVaDFsNFZXdE9ZWmNrMkZYbk"),
    # A ConfigMap key quoted inside JSON: the value's quotes are escaped.
    (json.dumps({"config.yaml": 'password: "p@ss w0rd"\n'}), "w0rd"),
    (json.dumps({"config.yaml": json.dumps({"token": "nested-token-123"})}), "nested-token-123"),
    ("password: a b c, user: otel", "a b c"),
    ('{"password": "ab"}', '"ab"'),
    ("OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20abcdefghijklmnop", "abcdefghijklmnop"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAA"),
]


@pytest.mark.parametrize("text,secret", CREDENTIALS, ids=[f"{index}-{text[:20]}" for index, (text, _) in enumerate(CREDENTIALS)])
def test_credential_is_masked(text: str, secret: str) -> None:
    cleaned = redact(text)

    assert secret not in cleaned
    assert "[redacted sha256:" in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "remote write basic authentication failing",
        "token authentication expired",
        "bearer_token_file: /var/run/secrets/kubernetes.io/serviceaccount/token",
        "password_file: /etc/prometheus/remote-write-password",
        'token_url: "https://auth.example.com/oauth2/token"',
        "password=ab user=otel",
        "auth:\n  authenticator: sigv4auth",
        "exporters: [otlp/tempo, spanmetrics]",
    ],
)
def test_ordinary_text_stays(text: str) -> None:
    assert redact(text) == text


def test_mask_stops_before_next_pair() -> None:
    assert redact("password=hunter2 user=otel") == f"password=[redacted sha256:{fingerprint('hunter2')}] user=otel"


def test_mask_keeps_format_prefix() -> None:
    cleaned = redact("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX")

    assert cleaned.startswith("https://hooks.slack.com/services/…[redacted sha256:")


def test_evidence_value_masked_before_cut() -> None:
    # Cut first, the key id would lose the characters the AKIA rule needs, and half of it would show.
    value = {"env": [{"name": "KEY_ID", "value": "AKIAQWERTYUIOPASDFGH"}]}

    shown = short(value, limit=50)

    assert "QWERTY" not in shown
    assert len(shown) <= 50


def test_log_filter_masks_traceback() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("tests.security.traceback")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("cannot parse headers: Authorization: Bearer tb-token-0123456789")
        except ValueError:
            logger.error("check failed", exc_info=True)
    finally:
        logger.removeHandler(handler)

    output = stream.getvalue()
    assert "ValueError" in output
    assert "tb-token-0123456789" not in output
    assert "[redacted sha256:" in output


def test_json_log_uses_masked_traceback() -> None:
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "check failed", None, None)
    try:
        raise RuntimeError("password: json-trace-secret")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()

    RedactingFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))

    assert "json-trace-secret" not in line["exception"]
    assert "RuntimeError" in line["exception"]


def test_clean_text_drops_invisible_characters() -> None:
    text = "why\x07 no\u202e span\u200bmetrics\x85 here"

    assert clean_text(text, max_chars=100) == "why  no spanmetrics  here"


def test_request_text_masked_then_cut() -> None:
    # The token starts before the cut and ends after it: masked first, nothing of it is left.
    text = "why 401 " + "xoxb-123456789012-abcdefghijklmnop"

    cleaned = clean_request_text(text, max_chars=20)

    assert len(cleaned) <= 20
    assert "123456789012" not in cleaned
    assert "xoxb-" in cleaned


def test_document_masks_values_by_key() -> None:
    document = {
        "extensions": {"basicauth/prw": {"client_auth": {"username": "otel", "password": "pw-under-key"}}},
        "env": [{"name": "AWS_SECRET_ACCESS_KEY", "value": "bare-secret-value"}, {"name": "OTEL_SERVICE_NAME", "value": "user-service"}],
        "bearer_token_file": "/var/run/secrets/token",
        "max_token_length": 100,
        "endpoint": "http://writer:url-pass-123@prometheus:9090/api/v1/write",
    }

    masked = redact_document(document)

    assert masked["extensions"]["basicauth/prw"]["client_auth"] == {"username": "otel", "password": f"[redacted sha256:{fingerprint('pw-under-key')}]"}
    assert masked["env"][0]["value"] == f"[redacted sha256:{fingerprint('bare-secret-value')}]"
    assert masked["env"][1] == {"name": "OTEL_SERVICE_NAME", "value": "user-service"}
    assert masked["bearer_token_file"] == "/var/run/secrets/token"
    assert masked["max_token_length"] == 100
    assert "url-pass-123" not in masked["endpoint"]
    assert document["env"][0]["value"] == "bare-secret-value", "the input document is not changed"


def test_assertion_selects_masked_value() -> None:
    # A selection of the bare value, without its key, still shows only the marker.
    document = {"env": [{"name": "DB_PASSWORD", "value": "hunter2-selected"}]}
    assertion = Assertion(path="env[?name=='DB_PASSWORD'].value | [0]", equals="x")

    [evidence] = evaluate_assertions([assertion], document)

    assert "hunter2-selected" not in evidence.text.en
    assert f"[redacted sha256:{fingerprint('hunter2-selected')}]" in evidence.text.en
    assert evidence.ok is False
