"""Parse the Redis URL setting: ``redis://``, ``rediss://`` and ``redis+sentinel://``.

redis-py reads ``redis://`` and ``rediss://`` URLs itself but has no URL form for Sentinel, so
``redis+sentinel://[[username]:password@]host[:port][,host[:port]...]/service_name[/db]`` is parsed
here. The password in a Sentinel URL is the Redis master's; Sentinels that need their own password
get it from ``state.sentinel_password``.

Error messages name the setting and never repeat the URL, because it may contain a password.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlsplit

from pydantic import SecretStr

from bot.errors import ConfigError

__all__ = ["DEFAULT_REDIS_PORT", "DEFAULT_SENTINEL_PORT", "RedisTarget", "parse_redis_url"]

DEFAULT_REDIS_PORT = 6379
DEFAULT_SENTINEL_PORT = 26379
SENTINEL_SCHEME = "redis+sentinel"
DIRECT_SCHEMES = ("redis", "rediss")
SETTING = "state.redis_url"


@dataclass(frozen=True)
class RedisTarget:
    """Connection target of the Redis store: one Redis server, or the Sentinels that track the master."""

    scheme: str
    hosts: tuple[tuple[str, int], ...]
    db: int
    username: str | None
    password: SecretStr | None
    service_name: str | None
    url: SecretStr

    @property
    def sentinel(self) -> bool:
        return self.scheme == SENTINEL_SCHEME

    @property
    def tls(self) -> bool:
        return self.scheme == "rediss"

    def redacted(self) -> str:
        """Return the URL without credentials or query string, safe to log."""
        hosts = ",".join(f"{_format_host(host)}:{port}" for host, port in self.hosts)
        path = f"{self.service_name}/{self.db}" if self.sentinel else str(self.db)
        return f"{self.scheme}://{hosts}/{path}"

    def secret_values(self) -> tuple[str, ...]:
        """Return the password as written in the URL and decoded, to scrub from error text."""
        if self.password is None:
            return ()
        plain = self.password.get_secret_value()
        return tuple({plain, quote(plain, safe=""), quote(plain)} - {""})


def parse_redis_url(url: str) -> RedisTarget:
    """Parse the Redis URL setting; raise ConfigError, without the URL in the message, when invalid."""
    scheme, separator, _ = url.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in (*DIRECT_SCHEMES, SENTINEL_SCHEME):
        raise ConfigError(
            f"invalid {SETTING}: the scheme must be redis://, rediss:// or redis+sentinel:// "
            "(for example redis://redis:6379/0 or redis+sentinel://sentinel:26379/mymaster)"
        )

    if scheme == SENTINEL_SCHEME:
        return _parse_sentinel_url(url)
    return _parse_direct_url(url, scheme)


def _parse_direct_url(url: str, scheme: str) -> RedisTarget:
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_REDIS_PORT
    except ValueError as exc:
        raise ConfigError(f"invalid {SETTING}: the port of the {scheme}:// URL is not a number from 1 to 65535") from exc

    # redis-py lets ?db= and ?password= stand in for the path and the user info, so mirror that here.
    query = parse_qs(parts.query)
    host = unquote(parts.hostname) if parts.hostname else "localhost"
    db = _parse_db(query["db"][0] if "db" in query else (parts.path.strip("/") or "0"), scheme)
    username = unquote(parts.username) if parts.username else None
    password_text = unquote(parts.password) if parts.password else query.get("password", [""])[0]
    password = SecretStr(password_text) if password_text else None
    return RedisTarget(
        scheme=scheme,
        hosts=((host, port),),
        db=db,
        username=username,
        password=password,
        service_name=None,
        url=SecretStr(url),
    )


def _parse_sentinel_url(url: str) -> RedisTarget:
    rest = url.partition("://")[2]
    if "?" in rest or "#" in rest:
        raise ConfigError(f"invalid {SETTING}: redis+sentinel:// URLs take no query string or fragment; set timeouts under state.*")

    netloc, _, path = rest.partition("/")
    userinfo, at, host_list = netloc.rpartition("@")
    if not at:
        host_list = netloc
    username, password = _parse_userinfo(userinfo)
    hosts = tuple(_parse_sentinel_host(item) for item in host_list.split(","))

    path_parts = [part for part in path.split("/") if part]
    if not path_parts:
        raise ConfigError(f"invalid {SETTING}: the redis+sentinel:// URL names no service; add it as the path, e.g. redis+sentinel://sentinel:26379/mymaster")
    if len(path_parts) > 2:
        raise ConfigError(f"invalid {SETTING}: the redis+sentinel:// path must be /service_name or /service_name/db")
    service_name = unquote(path_parts[0])
    db = _parse_db(path_parts[1], SENTINEL_SCHEME) if len(path_parts) == 2 else 0

    return RedisTarget(
        scheme=SENTINEL_SCHEME,
        hosts=hosts,
        db=db,
        username=username,
        password=password,
        service_name=service_name,
        url=SecretStr(url),
    )


def _parse_userinfo(userinfo: str) -> tuple[str | None, SecretStr | None]:
    if not userinfo:
        return None, None
    username, colon, password = userinfo.partition(":")
    if not colon:
        # A single word before "@" is a password, as in redis-cli's -a, not a username without one.
        return None, SecretStr(unquote(username))
    return (unquote(username) or None), (SecretStr(unquote(password)) if password else None)


def _parse_sentinel_host(item: str) -> tuple[str, int]:
    """Parse ``host``, ``host:port`` or ``[ipv6]:port`` from a Sentinel host list."""
    item = item.strip()
    if item.startswith("["):
        host, bracket, port_text = item[1:].partition("]")
        if not bracket or (port_text and not port_text.startswith(":")):
            raise ConfigError(f"invalid {SETTING}: a bracketed IPv6 Sentinel address must look like [::1]:26379")
        port_text = port_text[1:]
    else:
        host, _, port_text = item.partition(":")
    if not host:
        raise ConfigError(f"invalid {SETTING}: the redis+sentinel:// URL has an empty Sentinel host; list them as host:port,host:port")
    return unquote(host), _parse_port(port_text)


def _parse_port(text: str) -> int:
    if not text:
        return DEFAULT_SENTINEL_PORT
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ConfigError(f"invalid {SETTING}: Sentinel port {text!r} is not a number from 1 to 65535")
    return int(text)


def _parse_db(text: str, scheme: str) -> int:
    if not text.isdigit():
        raise ConfigError(f"invalid {SETTING}: the database in the {scheme}:// URL must be a number, e.g. /0, not {text!r}")
    return int(text)


def _format_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
