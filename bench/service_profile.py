"""Where the service's CPU goes, when py-spy's samples do not add up.

On this box py-spy's Python samples covered only about half of the CPU that
psutil measured for the workers (native frames, granian's threads and idle
waits are hard to tell apart). Two measurements that do add up:

- ``threads``: the benchmark stack (granian, 2 workers), deposits at
  ``--rate`` for ``--seconds``; CPU per deposit of every thread of every
  service process (main threads run Python and the C it calls).
- ``cprofile``: one uvicorn worker under cProfile with the same stack and
  load; prints the inclusive share of the main paths (cProfile inflates
  call-heavy code, so read the shares, not the seconds) and keeps the
  ``.prof`` for ``python -m pstats``.

    uv run python -m bench.service_profile threads --rate 100
    uv run python -m bench.service_profile cprofile --rate 80 --out service.prof
"""

from __future__ import annotations

import argparse
import json
import pstats
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil

from bench.database import COUNTRIES
from bench.loadspec import LoadSpec, RequestTemplate
from bench.paths import ROOT
from bench.stack import Stack

# Inclusive paths reported by ``cprofile``: (label, file suffix, function).
PATHS: list[tuple[str, str, str]] = [
    ("all request handling (Litestar)", "litestar/app.py", "__call__"),
    ("POST /deposit", "controllers/transactions.py", "deposit"),
    ("  gateway call (resilience + httpx)", "gateways/resilience.py", "submit"),
    ("    httpx AsyncClient.send", "httpx/_client.py", "send"),
    ("  units of work (commit)", "postgres/unit_of_work.py", "commit"),
    ("  route lookup", "application/routing.py", "route_payment"),
    ("POST /callback/{id}", "controllers/callbacks.py", "receive"),
    ("relay drain (incl. applying callbacks)", "postgres/relay.py", "drain_once"),
    ("  ApplyCallbacks.execute", "application/apply_callback.py", "execute"),
]


def _templates(stack: Stack) -> list[RequestTemplate]:
    key = stack.secrets.api_key
    out = []
    for user_id, country in stack.user_ids():
        currency, amount = COUNTRIES[country]
        body = json.dumps({"user_id": user_id, "amount": amount, "currency": currency})
        headers = (("Authorization", f"Bearer {key}"), ("Content-Type", "application/json"))
        out.append(RequestTemplate("POST", "/deposit", headers, body.encode()))
    return out


def _load(stack: Stack, rate: float, seconds: float) -> None:
    spec = LoadSpec(
        host="127.0.0.1",
        port=stack.service_port,
        templates=_templates(stack),
        rate=rate,
        duration_s=seconds,
        unique_header=None,
        unique_prefix="profile-",
        label="profile",
    )
    path = stack.workdir / "profile-spec.json"
    path.write_text(json.dumps(spec.to_json()))
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bench.loadgen", str(path), str(stack.workdir / "profile.json")],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        check=True,
    )


def threads(rate: float, seconds: float) -> None:
    stack = Stack(service_env={"PAYMENTS_MAX_INFLIGHT_PAYMENTS": "0"})
    with stack.running(say=lambda _m: None):
        assert stack.service is not None
        _load(stack, 100, 3)  # warm: route cache, prepared statements, pools
        root = psutil.Process(stack.service.pid)
        processes = [root, *root.children(recursive=True)]

        def snapshot() -> dict[tuple[int, int], float]:
            out = {}
            for proc in processes:
                try:
                    for t in proc.threads():
                        out[(proc.pid, t.id)] = t.user_time + t.system_time
                except psutil.Error:
                    continue
            return out

        before = snapshot()
        _load(stack, rate, seconds)
        time.sleep(1.5)  # let the callbacks of the last deposits be applied
        after = snapshot()
    deposits = rate * seconds
    print(f"{deposits:.0f} deposits at {rate:g}/s: CPU ms per deposit by thread")
    total = 0.0
    for key in sorted(after, key=lambda k: before.get(k, 0) - after[k]):
        used = after[key] - before.get(key, 0)
        total += used
        if used > 0.01:
            kind = "main" if key[0] == key[1] else "thread"
            print(f"  pid {key[0]} {kind} {key[1]}: {used / deposits * 1000:.2f}")
    print(f"  total: {total / deposits * 1000:.2f}")


def cprofile(rate: float, seconds: float, out: Path) -> None:
    stack = Stack(server="uvicorn", workers=1, service_env={"PAYMENTS_MAX_INFLIGHT_PAYMENTS": "0"})
    with stack.running(say=lambda _m: None):
        assert stack.service is not None
        stack.service.send_signal(signal.SIGTERM)  # replaced by one under cProfile
        stack.service.wait()
        port = str(stack.service_port)
        # uvicorn's own options, as bench/stack.py starts it, under cProfile.
        options = ["--factory", "--host", "127.0.0.1", "--port", port]
        options += ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
        options += ["--log-level", "warning", "entrypoints.asgi:create"]
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "uvicorn", *options],
            env=stack.base_env(),
            cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        _load(stack, rate, seconds)
        time.sleep(2)
        proc.send_signal(signal.SIGINT)  # uvicorn exits cleanly; cProfile writes ``out``
        proc.wait(timeout=30)
    print(f"inclusive time, share of all request handling ({out}):")
    stats = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]
    base = _inclusive(stats, lambda f, n: f.endswith(PATHS[0][1]) and n == PATHS[0][2])
    for label, suffix, function in PATHS:
        seconds_in = _inclusive(
            stats, lambda f, n, s=suffix, fn=function: f.endswith(s) and n == fn
        )
        print(f"  {label:42s} {seconds_in / base * 100:5.1f} %")


def _inclusive(
    stats: dict[tuple[str, int, str], tuple[Any, ...]], match: Callable[..., bool]
) -> float:
    # A coroutine is entered once per resumption; the largest cumulative time
    # of a matching entry is the path's inclusive time.
    return max((v[3] for (f, _l, n), v in stats.items() if match(f, n)), default=0.0) or 1e-9


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.service_profile", description=__doc__)
    parser.add_argument("what", choices=["threads", "cprofile"])
    parser.add_argument("--rate", type=float, default=80)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--out", type=Path, default=Path("service.prof"))
    args = parser.parse_args(argv)
    if args.what == "threads":
        threads(args.rate, args.seconds)
    else:
        cprofile(args.rate, args.seconds, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
