"""A platform's webhook endpoint for tests: a real HTTP server on 127.0.0.1.

It records every request (headers and raw body) and answers from a script:
the next status code in ``statuses`` (then ``default``), or, with ``hang``,
holds the request open until the receiver stops. With ``tls`` (a server
context) it speaks https.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(self.body)
        return payload


@dataclass
class Receiver:
    url: str = ""
    statuses: list[int] = field(default_factory=list)
    default: int = 200
    hang: bool = False
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopped: threading.Event = field(default_factory=threading.Event)

    def answer(self, received: Received) -> int | None:
        with self.lock:
            self.requests.append(received)
            if self.hang:
                return None
            return self.statuses.pop(0) if self.statuses else self.default

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.event for r in self.requests]

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while True:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            assert time.monotonic() < deadline, (
                f"{len(self.requests)} webhook requests after {timeout_s}s, wanted {count}"
            )
            time.sleep(0.02)


@contextmanager
def receiver(tls: ssl.SSLContext | None = None, **script: Any) -> Iterator[Receiver]:
    state = Receiver(**script)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = state.answer(Received({k.lower(): v for k, v in self.headers.items()}, body))
            if status is None:
                state.stopped.wait(60)
                return
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    scheme = "http"
    if tls is not None:  # https: the handshake happens on each accepted connection
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    state.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/events"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stopped.set()
        server.shutdown()
        server.server_close()


def main() -> None:
    """Serve receivers in their own process: ``--healthy N --hanging M``.

    Prints their URLs as one JSON line, then serves until stdin closes, so a
    latency test's receivers take no CPU time (nor GIL) from the service.
    """
    import argparse
    import sys
    from contextlib import ExitStack

    parser = argparse.ArgumentParser()
    parser.add_argument("--healthy", type=int, default=1)
    parser.add_argument("--hanging", type=int, default=0)
    args = parser.parse_args()
    with ExitStack() as stack:
        healthy = [stack.enter_context(receiver()) for _ in range(args.healthy)]
        hanging = [stack.enter_context(receiver(hang=True)) for _ in range(args.hanging)]
        urls = {"healthy": [r.url for r in healthy], "hanging": [r.url for r in hanging]}
        print(json.dumps(urls), flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
