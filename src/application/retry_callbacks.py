"""Apply again the callbacks whose apply raised, once their retry is due.

A callback that could not be applied stays ``received`` in the inbox with a
retry time (see apply_callback.RetryPolicy); the workers run this sweep
every second or so. Past its last attempt a callback is quarantined and
stops being retried.
"""

from __future__ import annotations

from application.apply_callback import ApplyCallbacks
from application.ports import Clock, UnitOfWorkFactory


class RetryCallbacks:
    def __init__(
        self, uow: UnitOfWorkFactory, apply: ApplyCallbacks, clock: Clock, batch_size: int = 100
    ) -> None:
        self._uow = uow
        self._apply = apply
        self._clock = clock
        self._batch = batch_size

    async def execute(self) -> int:
        """Retry one batch of due callbacks; how many were tried."""
        async with self._uow() as uow:
            due = await uow.inbox.due_for_retry(self._clock.now(), self._batch)
        if due:
            await self._apply.execute(due)
        return len(due)
