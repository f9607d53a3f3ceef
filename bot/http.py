"""The only place httpx clients are built."""

from __future__ import annotations

import logging

import httpx

__all__ = ["build_async_client"]

# httpx logs full URLs at INFO, and a URL's query string may carry a token.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)


def build_async_client(*, timeout_s: float, max_connections: int = 64) -> httpx.AsyncClient:
    """Build an async client for GETs to monitoring backends; redirects are not followed."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections // 2)
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), limits=limits, follow_redirects=False, trust_env=False)
