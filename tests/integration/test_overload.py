"""Overload: offered twice what the service holds, it sheds the excess and stays healthy.

The real service (API + in-process sandbox gateways) runs with a small
admission cap, so its capacity is easy to exceed on a small shared box. We
measure that capacity briefly, then offer twice as much for 10 s from an
open-model generator in its own process. What must hold:

- the breakers of the (healthy) gateways stay closed;
- the excess gets a fast 503 ``overloaded`` with ``Retry-After``;
- admitted deposits stay near their unloaded latency;
- right after, a normal rate gets no errors at all;
- once everything settled, the books pass the invariant checker.

Outcomes are counted rather than timed where possible, with generous
margins: the box is shared and noisy.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from bench.loadspec import RequestTemplate
from tests.integration.test_fault_gateway_chaos import open_count
from tests.support.api import ADMIN, CLIENT, CLIENT_KEY, behave, check_invariants, serve_api
from tests.support.openload import Answer, json_posts, offer, percentile

CAP = 6  # payments in flight per worker: small, so "capacity" is low and stable
USERS = ((1, "USD"), (2, "GBP"), (3, "EUR"))
GATEWAY_LATENCY_MS = 50  # as the benchmark's sandbox


def deposits() -> list[RequestTemplate]:
    bodies: list[dict[str, object]] = [
        {"user_id": user, "amount": "5.00", "currency": currency} for user, currency in USERS
    ]
    return json_posts("/deposit", bodies, CLIENT_KEY)


def probe_while(running: Future[list[Answer]], api: httpx.Client) -> list[httpx.Response]:
    """Deposits sent one by one while the load runs, answers with their headers."""
    answers = []
    while not running.done():
        body = {"user_id": 1, "amount": "1.00", "currency": "USD"}
        answers.append(api.post("/deposit", json=body, headers=CLIENT))
        time.sleep(0.2)
    return answers


def breakers(api: httpx.Client) -> dict[str, str]:
    gateways = api.get("/gateways", headers=ADMIN).json()
    return {g["id"]: g["breaker"] for g in gateways}


def shed_so_far(api: httpx.Client) -> float:
    """``payments_http_shed_total{kind="payment"}`` of the server (0 before any)."""
    for line in api.get("/metrics").text.splitlines():
        if line.startswith('payments_http_shed_total{kind="payment"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def served(answers: list[Answer]) -> list[Answer]:
    return [a for a in answers if a.status == 201]


def test_overload_is_shed_fast_and_no_gateway_is_blamed(demo_database_url: str) -> None:
    with serve_api(
        demo_database_url,
        PAYMENTS_MAX_INFLIGHT_PAYMENTS=str(CAP),
        # Tight timeouts and a hair-trigger breaker: if our saturation were
        # blamed on the gateways, they would trip within the overload.
        PAYMENTS_BREAKER_FAIL_MAX="3",
        PAYMENTS_BREAKER_RESET_S="30",
        PAYMENTS_RECONCILE_AFTER_S="3",
        PAYMENTS_RECONCILE_INTERVAL_S="0.5",
    ) as api:
        port = urlsplit(str(api.base_url)).port
        assert port is not None
        for gid in ("paypal", "stripe", "adyen"):
            behave(api, gid, latency_ms=GATEWAY_LATENCY_MS, callback_delay_ms=200)
        templates = deposits()
        started = datetime.now(UTC)

        # Capacity: as many closed-loop clients as the cap, so nothing is shed.
        offer(port, templates, 1, 1.0, closed_connections=CAP, label="warmup")
        unloaded = served(offer(port, templates, 10, 2.0, label="unloaded"))
        closed = offer(port, templates, 1, 3.0, closed_connections=CAP, label="capacity")
        assert {a.status for a in closed} == {201}, {a.status for a in closed}
        capacity = len(closed) / 3.0
        unloaded_p50 = percentile([a.latency_ms for a in unloaded], 0.5)

        # Twice the capacity, open model, for 10 s.
        rate = 2 * capacity
        shed_before = shed_so_far(api)
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(
                offer, port, templates, rate, 10.0, unique_header="Idempotency-Key", label="over"
            )
            probes = probe_while(running, api)
            overload = running.result()
        states = breakers(api)
        shed_counted = shed_so_far(api) - shed_before

        # Right after: a normal rate (a quarter of the capacity, so that a
        # stall of the shared box cannot fill the small cap), nothing may fail.
        after = offer(port, templates, capacity / 4, 3.0, label="after")
        states_after = breakers(api)
        shed_after = shed_so_far(api) - shed_before - shed_counted

        deadline = time.monotonic() + 30
        while open_count(demo_database_url):
            assert time.monotonic() < deadline, "deposits left open after the overload"
            time.sleep(0.3)
        check_invariants(demo_database_url, str(api.base_url), since=started)

    ok = served(overload)
    shed = [a for a in overload if a.status == 503]
    other = [a for a in overload if a.status not in (201, 503)]
    ok_p50 = percentile([a.latency_ms for a in ok], 0.5)
    ok_p99 = percentile([a.latency_ms for a in ok], 0.99)
    shed_p50 = percentile([a.latency_ms for a in shed], 0.5)
    shed_p99 = percentile([a.latency_ms for a in shed], 0.99)
    print(
        f"\n[overload] cap={CAP} capacity={capacity:.0f}/s unloaded_p50={unloaded_p50:.0f}ms"
        f" offered={rate:.0f}/s x10s: 201={len(ok)} ({len(ok) / 10:.0f}/s)"
        f" 503={len(shed)} other={len(other)} ok_p50={ok_p50:.0f}ms ok_p99={ok_p99:.0f}ms"
        f" shed_p50={shed_p50:.1f}ms shed_p99={shed_p99:.1f}ms breakers={states}"
        f" after: {sorted({a.status for a in after})}"
    )
    assert set(states.values()) == {"closed"}, states
    assert set(states_after.values()) == {"closed"}, states_after
    assert not other, sorted({a.status for a in other})
    # The excess was shed, and it was shed fast. A refusal costs well under a
    # millisecond of CPU; its tail is the event loop's lag, and on a shared
    # box the process being descheduled, so the tail bound is looser.
    assert len(shed) >= 0.2 * len(overload), (len(shed), len(overload))
    # The typical refusal, not its tail: on a shared 2-core box the tail is
    # the OS descheduling the process (p99 reached 316 ms once in CI while the
    # median stayed at a few ms); latency targets are the benchmark's job.
    assert shed_p50 < 25, shed_p50
    assert percentile([a.latency_ms for a in shed], 0.75) < 50
    assert {r.status_code for r in probes} <= {201, 503}, [r.text for r in probes]
    shed_probes = [r for r in probes if r.status_code == 503]
    assert shed_probes, "no probe was shed during the overload"
    assert shed_counted == len(shed) + len(shed_probes)  # every 503 was a shed one
    for r in shed_probes:
        assert r.headers["retry-after"] == "1"
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"] == "/problems/overloaded"
    # Those admitted were served at about the capacity, near their unloaded latency.
    assert len(ok) >= 0.5 * capacity * 10, (len(ok), capacity)
    assert ok_p50 < 3 * unloaded_p50 + 100, (ok_p50, unloaded_p50)
    after_statuses = sorted(a.status for a in after)
    assert set(after_statuses) == {201}, (after_statuses, f"{shed_after} shed")
