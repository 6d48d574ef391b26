"""Clock and id generator backed by the operating system."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class UuidV7Generator:
    """RFC 9562 UUIDv7: millisecond time prefix + randomness.

    Time-ordered ids keep the transactions index append-mostly and make ids
    sort roughly by creation. (Python 3.14 adds uuid.uuid7; until then, this.)
    """

    def new_id(self) -> str:
        ms = time.time_ns() // 1_000_000
        rand = int.from_bytes(os.urandom(10), "big")
        value = (ms & 0xFFFF_FFFF_FFFF) << 80 | rand
        value &= ~(0xF << 76)
        value |= 0x7 << 76  # version 7
        value &= ~(0x3 << 62)
        value |= 0x2 << 62  # RFC 4122 variant
        return str(uuid.UUID(int=value))
