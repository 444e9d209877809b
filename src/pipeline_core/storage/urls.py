"""Store URLs as shown to people."""

from __future__ import annotations


def redact_url(url: str) -> str:
    """The URL without its password, for messages and reports."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"
