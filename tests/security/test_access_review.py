"""At start the Slack app asks the API server which of the permissions the playbooks need it has.

The reviews are SelfSubjectAccessReviews, the one request the bot sends that is not a GET. Checks
that a missing permission will block are logged and listed in ``/otel help``.
"""

from __future__ import annotations

import logging

import pytest

from bot.app import load_catalog
from bot.config import load_settings
from bot.rbac import required_permissions
from tests.security.conftest import USER_EN, USER_KO

REVIEW_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


def needed_permissions() -> dict:
    return required_permissions(load_catalog(load_settings()).playbooks)


def checks_needing(resource: str) -> list[str]:
    return sorted(check for permission, checks in needed_permissions().items() if permission.resource == resource for check in checks)


def help_reply(bot, slack_api, *, user: str):
    """Send ``/otel help`` as ``user`` and return the reply that arrives through the response_url."""
    before = len(slack_api.calls("response_url"))
    bot.command("help", user=user)
    replies = slack_api.wait_for(lambda calls: slack_api.calls("response_url")[before:] or None, what=f"the help for {user}")
    return replies[0]


def test_start_reviews_every_permission(start_bot, sandbox) -> None:
    start_bot()

    reviews = list(sandbox.cluster.reviews)
    reviewed = {(review["verb"], review["resource"] + (f"/{review['subresource']}" if review.get("subresource") else ""), review["group"]) for review in reviews}
    expected = {(permission.verb, permission.resource, permission.api_group) for permission in needed_permissions()}
    assert reviewed == expected
    assert len(reviews) == len(expected)
    assert {review["namespace"] for review in reviews} == {sandbox.namespace}
    assert {request.path for request in sandbox.cluster.requests if request.method != "GET"} == {REVIEW_PATH}


def test_reviews_never_ask_for_secrets(start_bot, sandbox) -> None:
    start_bot()

    assert sandbox.cluster.reviews
    assert [review for review in sandbox.cluster.reviews if "secret" in review["resource"]] == []
    assert [permission for permission in needed_permissions() if "secret" in permission.resource] == []
    assert [request.path for request in sandbox.cluster.requests if "/secrets" in request.path] == []


def test_blocked_checks_logged_and_in_help(start_bot, slack_api, sandbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    sandbox.cluster.denied.add(("pods/log", "get"))
    blocked = checks_needing("pods/log")
    bot = start_bot()

    english = help_reply(bot, slack_api, user=USER_EN)
    korean = help_reply(bot, slack_api, user=USER_KO)

    assert blocked, "no bundled playbook reads pod logs; pick another permission"
    assert "Some checks cannot run" in english.text
    assert "otelbot rbac" in english.text
    for check in blocked:
        assert f"`{check}` needs `get pods/log`" in english.text
        assert f"`{check}`: `get pods/log` 권한 필요" in korean.text
        assert f"check {check} will fail: missing permission get pods/log in namespace wealist-prod" in caplog.text


def test_help_without_blocked_checks(start_bot, slack_api) -> None:
    bot = start_bot()

    reply = help_reply(bot, slack_api, user=USER_EN)

    assert "/otel why" in reply.text
    assert "Some checks cannot run" not in reply.text


def test_failed_review_does_not_stop_start(start_bot, slack_api, sandbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    sandbox.cluster.faults[REVIEW_PATH] = (500, "etcd timeout")

    bot = start_bot()
    reply = help_reply(bot, slack_api, user=USER_EN)

    assert "could not ask the API server which permissions otelbot has" in caplog.text
    assert "etcd timeout" in caplog.text
    assert "Some checks cannot run" not in reply.text
