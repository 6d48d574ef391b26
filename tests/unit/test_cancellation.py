"""A worker loop stops even when a library swallowed its cancellation (gh-86296)."""

from __future__ import annotations

import asyncio

from adapters.cancellation import checkpoint

TURNS = 200  # bounded, so a loop that ignores its cancellation still ends the test


async def _worker(turns: list[int], *, with_checkpoint: bool) -> str:
    for _ in range(TURNS):
        if with_checkpoint:
            checkpoint()
        turns.append(1)
        try:
            await asyncio.sleep(0.005)
        except asyncio.CancelledError:
            # What Python 3.11's wait_for can do when the awaited future
            # completes as the cancel arrives: the cancellation is lost.
            continue
    return "ran every turn"


def _stop_after_a_few_turns(*, with_checkpoint: bool) -> tuple[str, int]:
    async def main() -> tuple[str, int]:
        turns: list[int] = []
        task = asyncio.create_task(_worker(turns, with_checkpoint=with_checkpoint))
        await asyncio.sleep(0.03)
        task.cancel()
        try:
            outcome = await task
        except asyncio.CancelledError:
            outcome = "cancelled"
        return outcome, len(turns)

    return asyncio.run(main())


def test_a_loop_with_a_checkpoint_stops_after_a_swallowed_cancel() -> None:
    outcome, turns = _stop_after_a_few_turns(with_checkpoint=True)
    assert outcome == "cancelled"
    assert turns < TURNS // 4


def test_without_the_checkpoint_the_same_loop_runs_on() -> None:
    # The failure the checkpoint prevents: the cancel is lost, the loop goes on.
    assert _stop_after_a_few_turns(with_checkpoint=False) == ("ran every turn", TURNS)


def test_checkpoint_outside_a_cancelled_task_does_nothing() -> None:
    async def main() -> None:
        checkpoint()

    asyncio.run(main())
