"""A Redis password never reaches logs or error messages."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.errors import ConfigError, StateError
from bot.state import FailoverStore, connect_redis, open_store
from tests.state.conftest import state_settings
from tests.support.prometheus import free_port
from tests.support.redis import RedisProcess

PASSWORD = "Pa55-w0rd-n0t-f0r-l0gs"


def test_password_absent_when_redis_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"
    errors: list[str] = []

    async def main() -> None:
        direct = connect_redis(state_settings(url))
        try:
            with pytest.raises(StateError) as caught:
                await direct.claim("event:x", 60)
            errors.append(str(caught.value))
            errors.append(repr(caught.value))
            errors.append(str(caught.value.__cause__))
        finally:
            await direct.close()

        store = open_store(state_settings(url))
        assert isinstance(store, FailoverStore)
        try:
            assert await store.claim("event:x", 60) is True
            assert store.degraded is True
        finally:
            await store.close()

    asyncio.run(main())

    assert "127.0.0.1" in caplog.text
    assert PASSWORD not in caplog.text
    for text in errors:
        assert PASSWORD not in text


def test_password_absent_on_wrong_password(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = RedisProcess(tmp_path / "redis", password="the-real-one").start()
    url = f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"

    async def main() -> str:
        store = connect_redis(state_settings(url))
        try:
            with pytest.raises(StateError, match="AuthenticationError") as caught:
                await store.claim("event:x", 60)
            return str(caught.value)
        finally:
            await store.close()

    try:
        message = asyncio.run(main())
    finally:
        server.stop()

    assert PASSWORD not in message
    assert PASSWORD not in caplog.text


def test_password_absent_from_config_errors() -> None:
    for url in (
        f"redis+sentinel://:{PASSWORD}@127.0.0.1:26379",
        f"redis+sentinel://:{PASSWORD}@127.0.0.1:bad/mymaster",
        f"redis+sentinel://:{PASSWORD}@127.0.0.1:26379/mymaster?x=1",
        f"http://:{PASSWORD}@127.0.0.1:6379",
        f"redis://:{PASSWORD}@127.0.0.1:6379/db",
    ):
        with pytest.raises(ConfigError) as caught:
            open_store(state_settings(url))
        assert PASSWORD not in str(caught.value)


def test_password_absent_from_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTELBOT_REDIS_URL", f"redis://:{PASSWORD}@127.0.0.1:6379/0")
    monkeypatch.setenv("OTELBOT_STATE__SENTINEL_PASSWORD", PASSWORD)
    settings = load_settings()
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings.state)
