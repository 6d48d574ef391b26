"""Slow and oversized clients against both servers we run (2/7 item 7).

Each attack from the attack run, on a real ``payments serve`` process, once
with uvicorn (the one-process default) and once with granian (production,
``--server granian``): a slowloris client, a 100 KB header, a 3 MiB body
sent whole, an idle keep-alive connection, and (uvicorn) too many sockets.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from tests.integration.conftest import create_database, drop_database
from tests.support.api import CLIENT_KEY, production_env
from tests.support.server import free_port, wait_healthy

HEADER_TIMEOUT_S = 2.0
KEEP_ALIVE_S = 2.0


@pytest.fixture(scope="module", params=["uvicorn", "granian"])
def server(
    request: pytest.FixtureRequest,
    postgres_server_url: str,
    template_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, int]]:
    name = f"test_slow_{uuid.uuid4().hex}"
    url = create_database(postgres_server_url, name, template=template_database)
    port = free_port()
    env = production_env(
        url,
        PAYMENTS_PORT=str(port),
        PAYMENTS_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
        PAYMENTS_KEEP_ALIVE_TIMEOUT_S=str(KEEP_ALIVE_S),
        PAYMENTS_MAX_CONNECTIONS="8",
        PAYMENTS_RUN_WORKERS="0",
    )
    args = (
        ["serve"]
        if request.param == "uvicorn"
        else ["serve", "--server", "granian", "--workers", "1"]
    )
    log = tmp_path_factory.mktemp("slow") / f"{request.param}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", *args], env=env, stdout=out, stderr=out
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", proc, log, within_s=40)
        yield request.param, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        drop_database(postgres_server_url, name)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def read_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (or 10 s pass)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data and _complete(data):
                break
    except TimeoutError:
        pass
    return data


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed the connection, or None if it did not."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def test_a_client_trickling_its_headers_is_cut_off(server: tuple[str, int]) -> None:
    _, port = server
    sock = connect(port)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    try:
        for i in range(10):  # one header line a second, never the blank line
            time.sleep(1)
            sock.sendall(b"X-Slow-%d: 1\r\n" % i)
    except (BrokenPipeError, ConnectionResetError):
        pass
    left = closed_within(sock, 5)
    total = time.monotonic() - started
    assert left is not None, f"still open after {total:.1f} s"
    assert total < HEADER_TIMEOUT_S + 4


def test_a_100_kb_header_is_refused(server: tuple[str, int]) -> None:
    _, port = server
    sock = connect(port)
    big = b"a" * 100_000
    try:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + big + b"\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        return  # refused before it was all sent
    answer = read_answer(sock)
    status = answer.split(b" ", 2)[1] if answer else b"closed"
    assert status in (b"431", b"400", b"closed"), answer[:200]
    assert not answer.startswith(b"HTTP/1.1 200")


def test_a_3_mib_body_sent_whole_gets_413_not_a_reset(server: tuple[str, int]) -> None:
    # Python's urllib writes the whole body before it reads: when the server
    # answered early and closed, about one request in eight saw a reset.
    _, port = server
    body = (
        b'{"user_id": 1, "amount": "1.00", "currency": "USD", "pad": "' + b"x" * (3 << 20) + b'"}'
    )
    outcomes: list[str] = []
    for _ in range(30):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/deposit",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {CLIENT_KEY}"},
        )
        try:
            urllib.request.urlopen(request, timeout=10)  # noqa: S310 (loopback)
            outcomes.append("accepted")
        except urllib.error.HTTPError as exc:
            problem = exc.headers["content-type"].startswith("application/problem+json")
            outcomes.append(f"{exc.code}{'' if problem else ' (not a problem)'}")
        except OSError as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes == ["413"] * 30


def test_an_idle_keep_alive_connection_is_closed(server: tuple[str, int]) -> None:
    _, port = server
    sock = connect(port)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_answer(sock).startswith(b"HTTP/1.1 200")
    left = closed_within(sock, max(HEADER_TIMEOUT_S, KEEP_ALIVE_S) + 4)
    assert left is not None, "an idle connection stayed open"


# granian holds connections beyond its backpressure in the listen backlog instead.
@pytest.mark.parametrize("server", ["uvicorn"], indirect=True)
def test_uvicorn_refuses_connections_beyond_the_limit(server: tuple[str, int]) -> None:
    _, port = server
    idle = [connect(port) for _ in range(8)]
    for sock in idle:
        sock.sendall(b"GET /health HTTP/1.1\r\n")  # incomplete: each holds a connection
    time.sleep(0.3)
    sock = connect(port)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_answer(sock).startswith(b"HTTP/1.1 503")
    for s in idle:
        s.close()
