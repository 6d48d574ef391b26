"""Webhook deliveries in a child process of the API (``PAYMENTS_WEBHOOK_DELIVERY=process``).

Why a process: every lifecycle event goes to every matching endpoint, so with
ten endpoints one deposit costs some thirty signed POSTs, each with its
database write. On the API's event loop that CPU queues in front of
deposits (measured: p50 5 → 16-32 ms with ten endpoints, one hanging); a
thread would still share the GIL. A child process has its own interpreter,
its own small pool and a lower CPU priority, so under load the kernel serves
payments first and deliveries take what is left. A hanging endpoint only
holds a socket in the child.

The parent supervises: it starts the child with the settings it runs on
(the embedded default's generated URL and secrets included), restarts it
after a crash, and stops it (TERM, then KILL) on shutdown. The child stops
by itself when its parent is gone, so a ``kill -9`` of the API leaves no
orphan sending webhooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import multiprocessing
import os
import signal
import time
from multiprocessing.process import BaseProcess

from adapters.cancellation import checkpoint
from entrypoints.container import make_container
from entrypoints.http.dependencies import resolve
from entrypoints.logging_setup import configure_logging
from entrypoints.redaction import add_secrets, secret_values
from entrypoints.settings import Settings
from entrypoints.webhook_worker import run_webhook_deliveries

log = logging.getLogger(__name__)

NICE = 10  # below the API: deliveries may wait, payments may not
CHILD_POOL_MAX = 4  # endpoints are served one send at a time each; 4 connections suffice
RESTART_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
HEALTHY_RUN_S = 60.0
STOP_GRACE_S = 10.0


class WebhookProcess:
    """Supervises the delivery child: ``await run()`` until cancelled."""

    def __init__(self, settings: Settings) -> None:
        self._settings = child_settings(settings)
        self._context = multiprocessing.get_context("spawn")  # no forked event loop or pool
        self.process: BaseProcess | None = None

    def start(self) -> BaseProcess:
        process = self._context.Process(
            target=child_main,
            args=(self._settings, os.getpid()),
            name="payments-webhooks",
            daemon=True,
        )
        process.start()
        self.process = process
        log.info("webhook deliveries run in process %s", process.pid)
        return process

    async def run(self) -> None:
        crashes = 0
        try:
            while True:
                checkpoint()
                started = time.monotonic()
                process = self.start()
                await _exited(process)
                if time.monotonic() - started > HEALTHY_RUN_S:
                    crashes = 0  # a crash after a long run starts the backoff afresh
                delay = RESTART_BACKOFF_S[min(crashes, len(RESTART_BACKOFF_S) - 1)]
                crashes += 1
                log.warning(
                    "webhook delivery process %s exited (%s); restarting in %.0f s",
                    process.pid,
                    process.exitcode,
                    delay,
                )
                await asyncio.sleep(delay)
        finally:
            await asyncio.to_thread(self.stop)

    def stop(self) -> None:
        process = self.process
        if process is None or process.exitcode is not None:
            return
        process.terminate()  # SIGTERM: the child cancels its sends; their leases run out
        process.join(STOP_GRACE_S)
        if process.exitcode is None:
            process.kill()
            process.join()


async def _exited(process: BaseProcess) -> None:
    """Wait for the process to end without a thread: its sentinel fd turns readable."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def ended() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(process.sentinel, ended)
    try:
        await done
    finally:
        loop.remove_reader(process.sentinel)


def child_settings(settings: Settings) -> Settings:
    """What the child runs on: only deliveries, a small pool."""
    return dataclasses.replace(
        settings,
        db_pool_min=1,
        db_pool_max=min(settings.db_pool_max, CHILD_POOL_MAX),
        webhook_delivery="inline",
    )


def child_main(settings: Settings, parent: int) -> None:
    """Entry point of the child (spawned: only the arguments and the environment come along)."""
    with contextlib.suppress(OSError):
        os.nice(NICE)
    fmt = os.environ.get("PAYMENTS_LOG_FORMAT", "json").strip().lower()
    configure_logging(settings.log_level, json_logs=fmt != "text")
    add_secrets(secret_values(settings))
    asyncio.run(_deliver(settings, parent))


async def _deliver(settings: Settings, parent: int) -> None:
    container = make_container(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        deliver = await resolve(container.deliver_webhooks)
        task = asyncio.create_task(run_webhook_deliveries(deliver, settings.webhook_poll_s))
        while not stop.is_set() and not task.done():
            if os.getppid() != parent:  # the API died without stopping us
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        stopped = container.shutdown_resources()
        if stopped is not None:
            await stopped
