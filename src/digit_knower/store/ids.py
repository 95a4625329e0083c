"""UUIDv7 ids (RFC 9562): made by the client, so that a retried write is recognised as the same.

Python 3.11 has no `uuid.uuid7`. The layout is small enough to write out: 48 bits of Unix time in
milliseconds, the version, 12 bits of sub-millisecond time (RFC 9562 §6.2 method 3, so ids made in
one process sort in creation order), the variant, and 62 random bits.
"""

from __future__ import annotations

import secrets
import time
import uuid

_NS_PER_MS = 1_000_000


def uuid7(unix_ns: int | None = None) -> uuid.UUID:
    """A new UUIDv7 for the instant `unix_ns` (nanoseconds since the epoch; default now)."""
    ns = time.time_ns() if unix_ns is None else unix_ns
    ms, sub_ms_ns = divmod(ns, _NS_PER_MS)
    sub_ms = sub_ms_ns * 4096 // _NS_PER_MS  # 12-bit fraction of the millisecond
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76
    value |= sub_ms << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    return uuid.UUID(int=value)


def uuid7_unix_ms(value: uuid.UUID) -> int:
    """The millisecond timestamp carried by a UUIDv7."""
    return value.int >> 80
