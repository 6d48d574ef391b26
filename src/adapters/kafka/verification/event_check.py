"""Read the whole transactions topic, from the beginning to its current end.

No consumer group: every partition is read and nothing is committed, so the
check never disturbs the service's consumers. The end
offsets are taken once at the start; the read stops when every partition
reached them (messages produced meanwhile may or may not be included, which
only matters on a busy system). The comparison with our records is
``application.verification.compare_events``; this adapter only reads and
decodes, leaving malformed messages for that check to name.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from adapters.messages import TRANSACTIONS_TOPIC
from application.verification.records import SourceUnavailable, StreamEvent

READ_TIMEOUT_S = 60.0
CONNECT_TIMEOUT_S = 15.0


class KafkaEventStream:
    """EventStream over ``{prefix}payments.transactions.v1``."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic_prefix: str = "",
        *,
        timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self.topic = topic_prefix + TRANSACTIONS_TOPIC
        self._timeout_s = timeout_s

    async def events(self) -> list[StreamEvent]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="payments-check",
            request_timeout_ms=int(CONNECT_TIMEOUT_S * 1000),
        )
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                await consumer.start()
                # Asking for every topic's metadata never auto-creates ours.
                topics = await consumer.topics()
            if self.topic not in topics:
                return []  # nothing was ever published
            return await self._read_all(consumer)
        except SourceUnavailable:
            raise
        except Exception as exc:  # KafkaError, TimeoutError, OSError...
            raise SourceUnavailable(
                f"kafka {self._bootstrap} ({self.topic}): {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            await consumer.stop()

    async def _read_all(self, consumer: AIOKafkaConsumer) -> list[StreamEvent]:
        # Without a group, subscribing assigns every partition of the topic
        # once its metadata arrives (and the topic is known to exist by now).
        consumer.subscribe([self.topic])
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            # aiokafka exposes no public "assigned" event to wait on.
            while not consumer.assignment():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assigned = sorted(consumer.assignment())
        await consumer.seek_to_beginning(*assigned)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(assigned)
        events: list[StreamEvent] = []
        deadline = time.monotonic() + self._timeout_s
        while await _behind(consumer, ends):
            if time.monotonic() > deadline:
                raise SourceUnavailable(
                    f"{self.topic}: not read to its end within {self._timeout_s:g}s "
                    f"({len(events)} messages so far)"
                )
            batches = await consumer.getmany(*assigned, timeout_ms=500, max_records=1000)
            for records in batches.values():
                events += [_event(r) for r in records if r.offset < ends[_tp(r)]]
        return events


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    """Whether some partition is not yet read up to its end offset."""
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


def _tp(record: ConsumerRecord[Any, Any]) -> TopicPartition:
    return TopicPartition(record.topic, record.partition)


def _event(record: ConsumerRecord[bytes, bytes]) -> StreamEvent:
    try:
        payload = json.loads(record.value or b"")
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        payload = {}
    version = payload.get("version")
    return StreamEvent(
        partition=record.partition,
        offset=record.offset,
        key=record.key.decode("utf-8", "replace") if record.key is not None else None,
        transaction_id=_text(payload.get("transaction_id")),
        # bool is an int to Python, never a version.
        version=version if isinstance(version, int) and not isinstance(version, bool) else None,
        event_id=_text(payload.get("event_id")),
        type=_text(payload.get("type")),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
