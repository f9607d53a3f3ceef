"""Parsing of the Redis URL setting (no server needed), and how settings choose the store."""

from __future__ import annotations

import asyncio

import pytest

from bot.config import StateSettings, load_settings
from bot.errors import ConfigError
from bot.state import FailoverStore, MemoryStore, open_store
from bot.state.redis_url import parse_redis_url


def test_parse_plain_url() -> None:
    target = parse_redis_url("redis://127.0.0.1:6380/3")
    assert target.scheme == "redis"
    assert target.hosts == (("127.0.0.1", 6380),)
    assert target.db == 3
    assert target.password is None
    assert target.sentinel is False
    assert target.tls is False


def test_parse_url_defaults() -> None:
    target = parse_redis_url("redis://")
    assert target.hosts == (("localhost", 6379),)
    assert target.db == 0


def test_parse_tls_url_with_password() -> None:
    target = parse_redis_url("rediss://default:p%40ss%2Fword@127.0.0.1:6380/2?ssl_cert_reqs=none")
    assert target.tls is True
    assert target.username == "default"
    assert target.password is not None
    assert target.password.get_secret_value() == "p@ss/word"
    assert target.db == 2
    assert target.redacted() == "rediss://127.0.0.1:6380/2"


def test_parse_db_from_query() -> None:
    assert parse_redis_url("redis://127.0.0.1/1?db=5").db == 5


def test_parse_sentinel_url() -> None:
    target = parse_redis_url("redis+sentinel://:s3cret@127.0.0.1:26379,127.0.0.1:26380/mymaster/1")
    assert target.sentinel is True
    assert target.hosts == (("127.0.0.1", 26379), ("127.0.0.1", 26380))
    assert target.service_name == "mymaster"
    assert target.db == 1
    assert target.username is None
    assert target.password is not None
    assert target.password.get_secret_value() == "s3cret"
    assert target.redacted() == "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster/1"


def test_parse_sentinel_defaults() -> None:
    target = parse_redis_url("redis+sentinel://localhost/mymaster")
    assert target.hosts == (("localhost", 26379),)
    assert target.db == 0
    assert target.password is None


def test_parse_sentinel_password_without_colon() -> None:
    target = parse_redis_url("redis+sentinel://s3cret@127.0.0.1:26379/mymaster")
    assert target.username is None
    assert target.password is not None
    assert target.password.get_secret_value() == "s3cret"


def test_parse_sentinel_username_and_ipv6() -> None:
    target = parse_redis_url("redis+sentinel://bot:pw@[::1]:26379,127.0.0.1/mymaster/2")
    assert target.username == "bot"
    assert target.hosts == (("::1", 26379), ("127.0.0.1", 26379))
    assert target.redacted() == "redis+sentinel://[::1]:26379,127.0.0.1:26379/mymaster/2"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:6379", "scheme must be redis://, rediss:// or redis\\+sentinel://"),
        ("127.0.0.1:6379", "scheme must be"),
        ("redis://127.0.0.1:99999/0", "port of the redis:// URL"),
        ("redis://127.0.0.1:6379/zero", "database in the redis:// URL must be a number"),
        ("redis+sentinel://127.0.0.1:26379", "names no service"),
        ("redis+sentinel://127.0.0.1:26379/", "names no service"),
        ("redis+sentinel://127.0.0.1:26379/mymaster/x", "database in the redis\\+sentinel:// URL"),
        ("redis+sentinel://127.0.0.1:26379/mymaster/0/extra", "path must be /service_name or /service_name/db"),
        ("redis+sentinel://127.0.0.1:port/mymaster", "Sentinel port 'port'"),
        ("redis+sentinel://127.0.0.1:26379,/mymaster", "empty Sentinel host"),
        ("redis+sentinel://[::1/mymaster", "bracketed IPv6"),
        ("redis+sentinel://127.0.0.1:26379/mymaster?db=1", "no query string"),
    ],
)
def test_parse_rejects_invalid_url(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_redis_url(url)


def test_open_store_without_url_is_memory() -> None:
    assert isinstance(open_store(StateSettings()), MemoryStore)
    assert isinstance(open_store(StateSettings(redis_url="  ")), MemoryStore)


def test_open_store_with_url_is_failover() -> None:
    store = open_store(StateSettings(redis_url="redis://127.0.0.1:6379/0"))
    try:
        assert isinstance(store, FailoverStore)
        assert store.degraded is False
    finally:
        asyncio.run(store.close())


def test_open_store_rejects_invalid_url() -> None:
    with pytest.raises(ConfigError, match="invalid state.redis_url"):
        open_store(StateSettings(redis_url="memcached://127.0.0.1:11211"))


def test_redis_url_from_either_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTELBOT_REDIS_URL", "redis://127.0.0.1:6001/0")
    settings = load_settings()
    assert settings.state.redis_url is not None
    assert settings.state.redis_url.get_secret_value() == "redis://127.0.0.1:6001/0"

    monkeypatch.setenv("OTELBOT_STATE__REDIS_URL", "redis://127.0.0.1:6002/0")
    settings = load_settings()
    assert settings.state.redis_url is not None
    assert settings.state.redis_url.get_secret_value() == "redis://127.0.0.1:6002/0"


def test_state_timeouts_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTELBOT_STATE__SOCKET_TIMEOUT_S", "0.25")
    monkeypatch.setenv("OTELBOT_STATE__PROBE_INTERVAL_S", "2")
    settings = load_settings()
    assert settings.state.socket_timeout_s == 0.25
    assert settings.state.probe_interval_s == 2
    assert settings.state.connect_timeout_s == 1.0
