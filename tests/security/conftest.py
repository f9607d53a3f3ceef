"""Fixtures of the security tests: the Slack app with chosen access and state settings, and Redis.

The app is the real ``otelbot serve`` in HTTP mode (``BotServer`` from the Slack tests) against
the mock Slack Web API and the sandbox cluster. Everything listens on loopback only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import redis as redis_client

from bot.config import load_settings
from tests.slack.conftest import BOT_TOKEN, SIGNING_SECRET, BotServer
from tests.support.prometheus import free_port
from tests.support.redis import RedisProcess, send_command
from tests.support.slack_api import MockSlackAPI

USER_KO = "UKOREAN"
USER_EN = "UENGLISH"
USER_OTHER = "UOTHER01"
CHANNEL_GENERAL = "CGENERAL1"
CHANNEL_INCIDENT = "CINCIDENT1"
CHANNEL_OPS = "COPS00001"
CHANNEL_DM = "DUSER0001"
CHANNEL_GROUP_DM = "GMPIM0001"
USERGROUP_ONCALL = "SONCALL01"


@pytest.fixture
def slack_api() -> Iterator[MockSlackAPI]:
    api = MockSlackAPI(
        users={USER_KO: "ko-KR", USER_EN: "en-US", USER_OTHER: "en-US"},
        channels={
            CHANNEL_GENERAL: "general",
            CHANNEL_INCIDENT: "inc-2026-12-04-remote-write",
            CHANNEL_OPS: "ops-observability",
            CHANNEL_DM: "",
            CHANNEL_GROUP_DM: "mpdm-ukorean--uenglish-1",
        },
        usergroups={USERGROUP_ONCALL: [USER_KO]},
    ).start()
    yield api
    api.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path_factory.mktemp("redis-security")).start()
    yield process
    process.stop()


@pytest.fixture
def redis(redis_server: RedisProcess) -> RedisProcess:
    """The session's redis-server, emptied for this test."""
    assert send_command(redis_server.port, "FLUSHALL").startswith(b"+OK")
    return redis_server


@pytest.fixture
def start_bot(slack_api: MockSlackAPI, sandbox) -> Iterator[Callable[..., BotServer]]:
    """Start ``otelbot serve`` against the sandbox; keyword arguments are settings sections to override."""
    started: list[BotServer] = []

    def start(*, slack: dict[str, Any] | None = None, **sections: Any) -> BotServer:
        settings = load_settings(
            cluster={"mode": "kubeconfig", "kubeconfig": str(sandbox.kubeconfig), "namespace": sandbox.namespace},
            slack={
                "mode": "http",
                "bot_token": BOT_TOKEN,
                "signing_secret": SIGNING_SECRET,
                "api_url": slack_api.url,
                "host": "127.0.0.1",
                "port": free_port(),
                "incident_channels": ["inc-*"],
                "progress_interval_s": 0.2,
                "shutdown_timeout_s": 20,
                **(slack or {}),
            },
            **sections,
        )
        bot = BotServer(settings, slack_api).start()
        started.append(bot)
        return bot

    yield start
    for bot in started:
        bot.stop()


def probe_playbooks() -> Path:
    """Return the directory of the test playbooks that quote planted credentials."""
    return Path(__file__).resolve().parent / "data" / "playbooks"


def redis_dump(server: RedisProcess) -> str:
    """Return every key of ``server`` and every value under it as one text, for searching."""
    client = redis_client.Redis(host="127.0.0.1", port=server.port)
    parts: list[bytes] = []
    try:
        for name in client.scan_iter("*"):
            parts.append(name)
            kind = client.type(name).decode()
            if kind == "none":
                # The key expired or a run released its lock between SCAN and TYPE: nothing left to read.
                continue
            if kind == "string":
                parts.append(client.get(name) or b"")
            elif kind == "list":
                parts.extend(client.lrange(name, 0, -1))
            elif kind == "hash":
                for field, value in client.hgetall(name).items():
                    parts.extend([field, value])
            elif kind == "set":
                parts.extend(client.smembers(name))
            elif kind == "zset":
                parts.extend(client.zrange(name, 0, -1))
            else:
                raise AssertionError(f"redis key {name!r} has type {kind}, which this dump does not read")
    finally:
        client.close()
    return "\n".join(part.decode("utf-8", errors="replace") for part in parts)
