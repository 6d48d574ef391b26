"""A small closed-loop load generator for fault scenarios (threads, real HTTP)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx


@dataclass
class Sample:
    started: float
    latency_s: float
    status: int  # 0: no HTTP answer at all
    body: dict[str, object] = field(default_factory=dict)


class Load:
    """Clients sending requests back to back until stopped; every answer is kept."""

    def __init__(
        self,
        base_url: str,
        request: Callable[[httpx.Client, int], httpx.Response],
        clients: int = 4,
    ) -> None:
        self._base = base_url
        self._request = request
        self._clients = clients
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.samples: list[Sample] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Load:
        for n in range(self._clients):
            thread = threading.Thread(target=self._run, args=(n,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _run(self, client_no: int) -> None:
        with httpx.Client(base_url=self._base, timeout=30) as client:
            n = 0
            while not self._stop.is_set():
                n += 1
                started = time.monotonic()
                try:
                    response = self._request(client, client_no * 1_000_000 + n)
                    status = response.status_code
                    try:
                        body = response.json() if response.content else {}
                    except ValueError:
                        body = {}
                except httpx.HTTPError:
                    status, body = 0, {}
                sample = Sample(started, time.monotonic() - started, status, body)
                with self._lock:
                    self.samples.append(sample)
                if status not in (200, 201):
                    time.sleep(0.05)  # a client backing off a little on errors

    def between(self, start: float, end: float) -> list[Sample]:
        with self._lock:
            return [s for s in self.samples if start <= s.started < end]
