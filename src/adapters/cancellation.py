"""Honour a cancellation that a library swallowed, at the top of every worker loop.

On Python 3.11, ``asyncio.wait_for`` loses a cancellation that arrives as
the awaited future completes (CPython gh-86296, fixed in 3.12), and aiokafka
and friends call it on every send and fetch. A worker loop whose
``task.cancel()`` was lost that way kept running, so ``stop_workers`` (and a
test that stops a relay) waited for ever. The request is still counted on
the task (``Task.cancelling()``), so each loop turn re-raises it.
"""

from __future__ import annotations

import asyncio


def checkpoint() -> None:
    """Raise CancelledError if this task was asked to stop and is still running."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
