"""`payments sandbox --workers 2` answers as one PSP, whichever process takes a request.

Each request goes out on a fresh connection (``httpx.get``/``post`` open one
per call), so the kernel hands them to either worker; the ``X-Sandbox-Worker``
header names the process that answered, which shows both took part.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.support.server import free_port, wait_healthy

PAYMENTS = [sys.executable, "-m", "entrypoints.cli"]
ADMIN_KEY = "sandbox-admin"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
# Each gateway's merchant credential, which every worker demands on gateway-side calls.
KEYS = {"paypal": "sk_workers_paypal", "stripe": "sk_workers_stripe", "adyen": "AQE_workers"}
PAYPAL = {"Authorization": f"Bearer {KEYS['paypal']}"}
ADYEN = {"X-API-Key": KEYS["adyen"]}
WORKER = "x-sandbox-worker"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
ADYEN_NS = "http://payment.services.adyen.com"


class Callbacks:
    """A loopback receiver that answers 200 and keeps the path of every callback."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        paths = self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the name http.server dispatches on
                self.rfile.read(int(self.headers.get("content-length", 0)))
                paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Sandbox:
    proc: subprocess.Popen[bytes]
    url: str  # .../sandbox
    log: Path
    callbacks: Callbacks

    def worker_pids(self) -> set[int]:
        """Pids of the processes serving the port: the uvicorn workers among the children."""
        pids = set()
        for child in psutil.Process(self.proc.pid).children():
            try:  # a worker just killed is a zombie until the parent reaps it
                if "resource_tracker" not in " ".join(child.cmdline()):
                    pids.add(child.pid)
            except psutil.Error:
                continue
        return pids


@contextmanager
def sandbox(tmp: Path, workers: int = 2) -> Iterator[Sandbox]:
    port, log = free_port(), tmp / f"sandbox-{workers}.log"
    callbacks = Callbacks()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")}
    env.update(
        PAYMENTS_DATA_DIR=str(tmp / "data"),
        PAYMENTS_ADMIN_API_KEYS=ADMIN_KEY,
        PAYMENTS_SANDBOX_CALLBACK_URL=callbacks.url,
        PAYMENTS_LOG_LEVEL="WARNING",
        **{f"PAYMENTS_GATEWAY_KEY_{g.upper()}": k for g, k in KEYS.items()},
    )
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*PAYMENTS, "sandbox", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    box = Sandbox(proc, f"http://127.0.0.1:{port}/sandbox", log, callbacks)
    try:
        wait_healthy(f"{box.url}/paypal/health", proc, log, within_s=30)
        deadline = time.monotonic() + 30
        while len(box.worker_pids()) < workers:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield box
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        callbacks.close()


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with sandbox(tmp_path_factory.mktemp("sandbox-workers")) as box:
        yield box


def set_behaviour(box: Sandbox, gateway: str, **body: Any) -> None:
    httpx.put(f"{box.url}/{gateway}/behaviour", json=body, headers=ADMIN).raise_for_status()


def deposit(
    box: Sandbox, reference: str, amount: str = "12.50", headers: dict[str, str] = PAYPAL
) -> httpx.Response:
    body = {
        "reference": reference,
        "transaction_id": f"tx-{reference}",
        "type": "deposit",
        "amount": amount,
        "currency": "USD",
        "user_id": 1,
    }
    return httpx.post(f"{box.url}/paypal/payments", json=body, headers=headers, timeout=10)


def soap(box: Sandbox, operation: str, headers: dict[str, str] = ADYEN) -> httpx.Response:
    envelope = (
        f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body>{operation}</soap:Body></soap:Envelope>'
    )
    return httpx.post(
        f"{box.url}/adyen/soap/",
        content=envelope.encode(),
        headers={"Content-Type": "text/xml; charset=utf-8", **headers},
        timeout=10,
    )


def authorise(box: Sandbox, reference: str, headers: dict[str, str] = ADYEN) -> httpx.Response:
    return soap(
        box,
        f'<authorise xmlns="{ADYEN_NS}"><paymentRequest><reference>{reference}</reference>'
        "<amount><currency>EUR</currency><value>1250</value></amount>"
        "<shopperReference>3</shopperReference><additionalData><entry>"
        f"<key>transactionId</key><value>tx-{reference}</value></entry></additionalData>"
        "</paymentRequest></authorise>",
        headers,
    )


def soap_status(box: Sandbox, reference: str) -> httpx.Response:
    return soap(
        box,
        f'<getPaymentStatus xmlns="{ADYEN_NS}"><statusRequest><reference>{reference}'
        "</reference></statusRequest></getPaymentStatus>",
    )


def element(xml: str, name: str) -> str:
    found = re.search(rf"<ns1:{name}>([^<]*)</ns1:{name}>", xml)
    assert found is not None, xml
    return found.group(1)


def test_the_sandbox_help_offers_workers() -> None:
    out = subprocess.run(
        [*PAYMENTS, "sandbox", "--help"], capture_output=True, text=True, check=True, timeout=60
    )
    assert "--workers N" in out.stdout


def test_a_behaviour_set_once_holds_on_every_worker(two_workers: Sandbox) -> None:
    box = two_workers
    set_behaviour(box, "paypal", mode="decline", latency_ms=0)
    before = httpx.get(f"{box.url}/paypal/behaviour", headers=ADMIN).json()["requests"]
    served: set[int] = set()
    sent = 0
    while sent < 40 or len(served) < 2:  # the kernel picks the worker; give both a chance
        assert sent < 400, served
        answer = deposit(box, f"declined-{sent}")
        assert answer.status_code == 402, answer.text
        served.add(int(answer.headers[WORKER]))
        sent += 1
    views = [httpx.get(f"{box.url}/paypal/behaviour", headers=ADMIN) for _ in range(10)]
    served |= {int(v.headers[WORKER]) for v in views}
    set_behaviour(box, "paypal", mode="ok")

    assert served == box.worker_pids()  # both workers answered, nothing else did
    assert {v.json()["mode"] for v in views} == {"decline"}
    assert {v.json()["requests"] - before for v in views} == {sent}  # counted in one place


def test_payments_from_every_worker_share_one_ledger_and_numbering(two_workers: Sandbox) -> None:
    box = two_workers
    set_behaviour(box, "paypal", mode="ok", callback_delay_ms=100)
    set_behaviour(box, "adyen", mode="ok", callback_delay_ms=100)
    references = [f"pay-{i}" for i in range(40)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(lambda ref: deposit(box, ref), references))
        again = list(pool.map(lambda ref: deposit(box, ref), references))  # idempotent
        soap_created = list(pool.map(lambda ref: authorise(box, f"soap-{ref}"), references))
    assert all(r.status_code == 201 for r in created + again), [r.text for r in created]
    ids = {r.json()["id"] for r in created}
    soap_ids = {element(r.text, "pspReference") for r in soap_created}
    assert len(ids) == len(soap_ids) == len(references)  # unique across workers...
    assert not ids & soap_ids  # ...and across gateways
    assert {r.json()["id"] for r in again} == ids  # a repeat finds the first payment
    assert {int(r.headers[WORKER]) for r in created + again} == box.worker_pids()

    time.sleep(0.5)  # every payment settles 100 ms after it was taken
    for _ in range(4):  # whichever worker answers
        ledger = httpx.get(f"{box.url}/paypal/ledger", headers=ADMIN).json()
        mine = {p["reference"]: p for p in ledger if p["reference"].startswith("pay-")}
        assert set(mine) == set(references)
        assert {p["id"] for p in mine.values()} == ids
    statuses = [httpx.get(f"{box.url}/paypal/payments/{ref}", headers=PAYPAL) for ref in references]
    assert {s.json()["status"] for s in statuses} == {"completed"}
    assert {s.json()["id"] for s in statuses} == ids
    soap_answers = [soap_status(box, f"soap-{ref}") for ref in references]
    assert {element(a.text, "status") for a in soap_answers} == {"completed"}
    assert {element(a.text, "pspReference") for a in soap_answers} == soap_ids
    served = {int(r.headers[WORKER]) for r in statuses + soap_answers}
    assert served == box.worker_pids()
    # One callback per payment, sent by the worker that took it.
    deadline = time.monotonic() + 10
    while len(box.callbacks.paths) < 2 * len(references):
        assert time.monotonic() < deadline, len(box.callbacks.paths)
        time.sleep(0.05)
    time.sleep(0.3)
    paths = box.callbacks.paths
    assert (paths.count("/callback/paypal"), paths.count("/callback/adyen")) == (40, 40)


def test_sigterm_stops_every_worker_and_removes_the_state(tmp_path: Path) -> None:
    with sandbox(tmp_path) as box:
        assert deposit(box, "before-restart").status_code == 201
        first = min(box.worker_pids())
        psutil.Process(first).kill()  # a worker that dies is replaced, the state stays
        deadline = time.monotonic() + 30
        while first in box.worker_pids() or len(box.worker_pids()) < 2:
            assert time.monotonic() < deadline, box.log.read_text()
            time.sleep(0.1)
        answers = [
            httpx.get(f"{box.url}/paypal/payments/before-restart", headers=PAYPAL)
            for _ in range(20)
        ]
        assert {a.status_code for a in answers} == {200}
        state = re.search(r"state in (\S+);", box.log.read_text())
        assert state is not None
        assert Path(state.group(1)).is_dir()
        tree = [psutil.Process(box.proc.pid), *psutil.Process(box.proc.pid).children()]

        box.proc.send_signal(signal.SIGTERM)
        assert box.proc.wait(timeout=20) == 0, box.log.read_text()
        _gone, alive = psutil.wait_procs(tree, timeout=5)
        assert not alive, alive
        assert not Path(state.group(1)).exists()


def test_every_worker_refuses_gateway_calls_without_the_merchant_key(two_workers: Sandbox) -> None:
    box = two_workers
    set_behaviour(box, "paypal", mode="ok", callback_delay_ms=50)
    set_behaviour(box, "adyen", mode="ok", callback_delay_ms=50)
    strangers = [{}, {"Authorization": "Bearer sk_guess"}, ADMIN, {"X-API-Key": KEYS["paypal"]}]
    callbacks_before = len(box.callbacks.paths)
    served: set[int] = set()
    sent = 0
    while sent < 40 or len(served) < 2:  # the kernel picks the worker; give both a chance
        assert sent < 400, served
        headers = strangers[sent % len(strangers)]
        answers = [
            deposit(box, f"forged-{sent}", headers=headers),
            httpx.get(f"{box.url}/paypal/payments/pay-0", headers=headers, timeout=10),
            authorise(box, f"forged-soap-{sent}", headers=headers),
        ]
        assert [a.status_code for a in answers] == [401, 401, 401], [a.text for a in answers]
        served |= {int(a.headers[WORKER]) for a in answers}
        sent += 1

    assert served == box.worker_pids()
    for gateway in ("paypal", "adyen"):
        ledger = httpx.get(f"{box.url}/{gateway}/ledger", headers=ADMIN).json()
        assert not [p for p in ledger if p["reference"].startswith("forged-")]
    time.sleep(0.3)  # a callback for an accepted forgery would have left by now
    assert len(box.callbacks.paths) == callbacks_before
