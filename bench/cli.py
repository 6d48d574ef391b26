"""``uv run python -m bench``: set everything up, sweep the rates, write the report.

Order of a run: PostgreSQL (+ migrations, demo data, bench users), sandbox
PSPs (``--sandbox-workers`` processes on one port), the service (granian or
uvicorn, N workers), optionally Kafka; then the PostgreSQL commit ceiling
(pgbench -N), a warm-up, the framework ceiling (``GET /health`` at the same
rates and with a closed loop at full speed), the deposit sweep (open model,
each step settled: every deposit's callback applied before the next step),
optional refinement between the last passing and the first failing rate, an
optional py-spy profile step, and a burst of signed callbacks POSTed directly
to measure how fast callbacks are applied.
Writes ``bench/results/<timestamp>.json``, ``.md`` and ``.png``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg
from rich.console import Console
from rich.live import Live
from rich.text import Text

from bench import profile as profiling
from bench.ceilings import PgbenchResult, run_pgbench
from bench.loadgen import LoadResult, LoadSpec, RequestTemplate
from bench.report import (
    Step,
    cost_table,
    judge,
    markdown,
    plot,
    step_table,
    summarize,
    write_json,
)
from bench.stack import COUNTRIES, GATEWAYS, ROOT, RssSampler, Stack, http

RESULTS = ROOT / "bench" / "results"
DEFAULT_RATES = "100,250,500,750,1000,1250"
QUICK_RATES = "50,100"
MB = 1024 * 1024
# Deposits made since a time that reached "completed": how many, over how long,
# and how long after creation (gateway latency + callback delay + our work).
COMPLETION_STATS = """
SELECT count(*),
       extract(epoch FROM max(updated_at) - min(updated_at)),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at)),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at))
FROM transactions WHERE created_at >= %s AND status = 'completed'
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the payments service: deposits/s, orchestration overhead, "
        "CPU and memory per deposit, against the machine's own ceilings.",
    )
    p.add_argument("--rates", help=f"deposit rates per second (default {DEFAULT_RATES})")
    p.add_argument("--duration", type=float, help="seconds per step (default 15; --quick 4)")
    p.add_argument("--workers", type=int, default=2, help="service worker processes")
    p.add_argument(
        "--sandbox-workers",
        type=int,
        default=2,
        metavar="N",
        help="sandbox PSP processes sharing its port (payments sandbox --workers N; default 2)",
    )
    p.add_argument("--server", choices=("granian", "uvicorn"), default="granian")
    p.add_argument("--gateway-latency-ms", type=int, default=50, help="sandbox answer latency")
    p.add_argument("--callback-delay-ms", type=int, default=200, help="sandbox callback delay")
    p.add_argument(
        "--kafka",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="run with a Kafka broker (PAYMENTS_BENCH_KAFKA_BOOTSTRAP or scripts/kafka-broker)",
    )
    p.add_argument("--quick", action="store_true", help="smoke run, about a minute")
    p.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="py-spy profile step (default: on, off with --quick)",
    )
    p.add_argument(
        "--profile-rate",
        type=float,
        help="deposits/s while profiling (default: the highest rate the sweep "
        "achieved without errors, at most 500)",
    )
    p.add_argument(
        "--refine", type=int, help="bisection steps after the sweep (default 2; quick 0)"
    )
    p.add_argument("--callback-rate", type=float, default=500, help="signed callbacks/s POSTed")
    p.add_argument("--callbacks", type=int, help="callbacks in the burst (default 2000; quick 500)")
    p.add_argument("--users", type=int, default=1000, help="bench users across US/GB/DE/JP")
    p.add_argument(
        "--idempotency-keys",
        action="store_true",
        help="send a distinct Idempotency-Key with every deposit",
    )
    p.add_argument(
        "--health-connections",
        type=int,
        default=64,
        help="connections of the closed-loop GET /health maximum",
    )
    p.add_argument("--pgbench-seconds", type=int, help="pgbench -N run time (default 5; quick 3)")
    p.add_argument(
        "--database-url",
        help="PostgreSQL server to use (default PAYMENTS_BENCH_DATABASE_URL, else "
        "embedded); a scratch database is created on it",
    )
    p.add_argument("--log-level", default="INFO", help="service PAYMENTS_LOG_LEVEL")
    p.add_argument("--pool-max", type=int, help="PAYMENTS_DB_POOL_MAX per worker")
    p.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra PAYMENTS_* setting for the service (repeatable), e.g. "
        "PAYMENTS_MAX_INFLIGHT_PAYMENTS=0",
    )
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    p.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="only rewrite the .md and .png of a saved run (re-reading its profile)",
    )
    return p


class Harness:
    def __init__(self, args: argparse.Namespace, console: Console) -> None:
        self.args = args
        self.console = console
        self.stack = Stack(
            server=args.server,
            workers=args.workers,
            sandbox_workers=args.sandbox_workers,
            gateway_latency_ms=args.gateway_latency_ms,
            callback_delay_ms=args.callback_delay_ms,
            kafka=args.kafka,
            database_url=args.database_url,
            users=args.users,
            log_level=args.log_level,
            pool_max=args.pool_max,
            service_env=dict(kv.split("=", 1) for kv in args.service_env),
        )
        self.steps: list[Step] = []
        self.timestamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        self._spec_no = 0

    def say(self, message: str) -> None:
        self.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")

    # -- requests -----------------------------------------------------------
    def deposit_templates(self) -> list[RequestTemplate]:
        key = self.stack.secrets.api_key
        out = []
        for user_id, country in self.stack.user_ids():
            currency, amount = COUNTRIES[country]
            body = json.dumps({"user_id": user_id, "amount": amount, "currency": currency})
            out.append(
                RequestTemplate(
                    "POST",
                    "/deposit",
                    (("Authorization", f"Bearer {key}"), ("Content-Type", "application/json")),
                    body.encode(),
                )
            )
        return out

    def spec(self, kind: str, rate: float, duration: float, **extra: Any) -> LoadSpec:
        templates = (
            [RequestTemplate("GET", "/health")] if kind == "health" else self.deposit_templates()
        )
        unique = None
        if kind != "health" and self.args.idempotency_keys:
            unique = "Idempotency-Key"
        return LoadSpec(
            host="127.0.0.1",
            port=self.stack.service_port,
            templates=extra.pop("templates", templates),
            rate=rate,
            duration_s=duration,
            unique_header=unique,
            unique_prefix=f"bench-{os.getpid()}-{kind}-{rate:g}-{time.time_ns()}-",
            label=f"{kind} {rate:g}/s" if rate else kind,
            **extra,
        )

    # -- measuring ----------------------------------------------------------
    def run_loadgen(self, spec: LoadSpec) -> tuple[LoadResult, float]:
        """The generator in its own process, with a live line; returns its result and CPU s."""
        self._spec_no += 1
        spec_path = self.stack.workdir / f"spec-{self._spec_no}.json"
        out_path = self.stack.workdir / f"result-{self._spec_no}.json"
        spec_path.write_text(json.dumps(spec.to_json()))
        tree = self.stack.service_tree
        assert tree is not None
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_mark = (time.monotonic(), tree.cpu_seconds())
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "bench.loadgen", str(spec_path), str(out_path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        with Live(
            Text(f"{spec.label}: starting"),
            console=self.console,
            transient=True,
            refresh_per_second=4,
        ) as live:
            for line in proc.stdout:
                try:
                    progress = json.loads(line)
                except ValueError:
                    continue
                now = time.monotonic()
                cpu = tree.cpu_seconds()
                pct = (cpu - cpu_mark[1]) / max(now - cpu_mark[0], 1e-6) * 100
                cpu_mark = (now, cpu)
                total = progress["total"]
                live.update(
                    Text(
                        f"{spec.label}: {progress['elapsed_s']:5.1f}s  sent {progress['sent']}"
                        + (f"/{total}" if total else "")
                        + f"  done {progress['done']}  in flight {progress['in_flight']}"
                        f"  errors {progress['errors']}  conns {progress['connections']}"
                        f"  p99 {progress['p99_ms'] or '-'} ms  service CPU {pct:.0f}%"
                    )
                )
        if proc.wait() != 0:
            raise RuntimeError(f"load generator failed ({proc.returncode})")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        loadgen_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return LoadResult.from_json(json.loads(out_path.read_text())), loadgen_cpu

    @contextlib.contextmanager
    def costs(self, step_holder: list[Step]) -> Iterator[None]:
        """CPU, RSS, commits of everything while the block runs; set on the step it yields."""
        stack = self.stack
        assert stack.service_tree is not None
        assert stack.sandbox_tree is not None
        trees = {"service": stack.service_tree}
        service0 = stack.service_tree.cpu_seconds()
        sandbox0 = stack.sandbox_tree.cpu_seconds()
        pg0 = stack.pg_tree.cpu_seconds() if stack.pg_tree else math.nan
        machine0 = psutil.cpu_times()
        commits0 = self.commits()
        with RssSampler(trees) as rss:
            yield
        step = step_holder[0]
        machine1 = psutil.cpu_times()
        busy = _busy(machine1) - _busy(machine0)
        total = sum(machine1) - sum(machine0)
        step.service_cpu_s = stack.service_tree.cpu_seconds() - service0
        step.sandbox_cpu_s = stack.sandbox_tree.cpu_seconds() - sandbox0
        step.pg_cpu_s = (stack.pg_tree.cpu_seconds() - pg0) if stack.pg_tree else math.nan
        step.machine_cpu_pct = busy / total * 100 if total > 0 else math.nan
        step.rss_peak_mb = rss.peak["service"] / MB
        step.pss_peak_mb = rss.peak_pss["service"] / MB
        if step.ok:
            step.cpu_s_per_1000 = step.service_cpu_s / step.ok * 1000
        step.pg_commits = self.commits() - commits0
        if step.ok:
            step.commits_per_request = step.pg_commits / step.ok

    def commits(self) -> int:
        with psycopg.connect(self.stack.url) as conn:
            row = conn.execute(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            ).fetchone()
        return int(row[0]) if row else 0

    def measure(self, kind: str, spec: LoadSpec, settle: bool) -> Step:
        holder: list[Step] = []
        background = self.background_cpu()
        since = datetime.now(UTC)
        with self.costs(holder):
            result, loadgen_cpu = self.run_loadgen(spec)
            step = summarize(result, kind)
            step.loadgen_cpu_s = loadgen_cpu
            holder.append(step)
            if settle:
                self.settle(step, since)
        if settle:
            step.invariants = self.check_invariants()
        step.background_cpu_pct = background
        self.steps.append(step)
        self._print_step(step)
        if step.errors:
            self.quiesce_sandbox()
            self.recover()
        return step

    def check_invariants(self) -> str:
        """``payments check`` on the settled stack (outside the step's cost window)."""
        proc = subprocess.run(
            [sys.executable, "-m", "entrypoints.cli", "check", "--json"],
            env=self.stack.base_env(),
            capture_output=True,
            timeout=300,
            check=False,
        )
        if proc.returncode == 0:
            return "ok"
        try:
            report = json.loads(proc.stdout)
            broken = [c["name"] for c in report.get("checks", []) if not c.get("ok", True)]
        except (ValueError, TypeError, AttributeError):
            broken = [proc.stderr.decode(errors="replace").strip()[-200:]]
        self.say(f"[red]payments check failed[/red]: {broken}")
        return f"broken ({', '.join(map(str, broken))})"

    def quiesce_sandbox(self, timeout_s: float = 120) -> None:
        """Wait until the sandbox stops re-sending the callbacks an overload left it.

        It retries each undelivered callback with backoff for about a minute,
        which slows its payment answers (the next steps' gateway time). It is
        not restarted instead: a new sandbox starts with an empty ledger, and
        (before its references were seeded from the clock) numbered them from 1
        again, while Adyen-style callbacks are deduplicated by reference.
        """
        tree = self.stack.sandbox_tree
        assert tree is not None
        started = time.monotonic()
        last, quiet = tree.cpu_seconds(), 0
        while quiet < 3 and time.monotonic() - started < timeout_s:
            time.sleep(1)
            now = tree.cpu_seconds()
            quiet = quiet + 1 if now - last < 0.03 else 0
            last = now
        self.say(f"sandbox quiet after {time.monotonic() - started:.0f} s")

    def background_cpu(self, seconds: float = 1.0) -> float:
        """Machine CPU % busy just before a step, with our stack idle: other people's work."""
        before = psutil.cpu_times()
        time.sleep(seconds)
        after = psutil.cpu_times()
        total = sum(after) - sum(before)
        return (_busy(after) - _busy(before)) / total * 100 if total > 0 else math.nan

    def recover(self, timeout_s: float = 120, in_a_row: int = 8) -> None:
        """After errors: wait until single deposits go through again.

        An overload opens the gateways' breakers (and may fail health checks);
        they close only after their reset time and a successful trial call, so
        the next step would measure the aftermath instead of the service.
        """
        stack = self.stack
        user_id, country = stack.user_ids()[0]
        currency, amount = COUNTRIES[country]
        body = {"user_id": user_id, "amount": amount, "currency": currency}
        started = time.monotonic()
        good = 0
        while time.monotonic() - started < timeout_s:
            try:
                status, _ = http(
                    "POST", f"{stack.service_url}/deposit", body, stack.secrets.api_key, 15
                )
            except OSError:
                status = 0
            good = good + 1 if 200 <= status < 300 else 0
            if good >= in_a_row:
                self.say(f"recovered after {time.monotonic() - started:.0f} s")
                return
            time.sleep(0.5)
        self.say(f"[yellow]not recovered after {timeout_s:.0f} s[/yellow]")

    def settle(self, step: Step, since: datetime, timeout_s: float = 60) -> None:
        """Wait until every deposit since ``since`` is final; record how callbacks kept up."""
        deadline = time.monotonic() + timeout_s
        with psycopg.connect(self.stack.url, autocommit=True) as conn:
            unsettled = 0
            last_change, last = time.monotonic(), -1
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT count(*) FROM transactions "
                    "WHERE created_at >= %s AND status IN ('pending', 'processing')",
                    (since,),
                ).fetchone()
                unsettled = int(row[0]) if row else 0
                if unsettled == 0:
                    break
                if unsettled != last:
                    last_change, last = time.monotonic(), unsettled
                elif time.monotonic() - last_change > 15:
                    break  # no callback arrives any more (lost in an overload)
                time.sleep(0.25)
            step.unsettled = unsettled
            row = conn.execute(
                COMPLETION_STATS,
                (since,),
            ).fetchone()
        if row and row[0]:
            step.completed = int(row[0])
            span = float(row[1] or 0)
            step.applied_rps = step.completed / span if span > 0 else math.nan
            step.completion_p50_ms = float(row[2]) * 1000
            step.completion_p99_ms = float(row[3]) * 1000
        if unsettled:
            step.note += f"{unsettled} deposits not final after {timeout_s:.0f} s; "

    def _print_step(self, step: Step) -> None:
        verdict = {True: "[green]pass[/green]", False: "[red]fail[/red]", None: ""}[step.passed]
        self.say(
            f"{step.kind} {step.offered_rps:g}/s → {step.achieved_rps:.0f}/s, errors "
            f"{step.errors}, p50/p99 {step.latency.p50:.1f}/{step.latency.p99:.1f} ms, overhead "
            f"p50/p99 {step.overhead.p50:.1f}/{step.overhead.p99:.1f} ms, gateway p50 "
            f"{step.gateway_p50_ms:.1f} ms, CPU "
            f"{step.cpu_s_per_1000:.2f} s/1k, RSS {step.rss_peak_mb:.0f} MB, machine "
            f"{step.machine_cpu_pct:.0f}% busy ({step.background_cpu_pct:.0f}% before), "
            f"loadgen lag p99 {step.lag_p99_ms:.1f} ms {verdict}"
        )
        if step.error_samples:
            self.say(f"[red]errors[/red] {step.error_kinds}: {step.error_samples[:2]}")

    # -- phases -------------------------------------------------------------
    def pgbench(self) -> PgbenchResult | None:
        seconds = self.args.pgbench_seconds or (3 if self.args.quick else 5)
        self.say(f"PostgreSQL commit ceiling: pgbench -N -c 8 for {seconds} s")
        try:
            result = run_pgbench(self.stack.server_url, seconds=seconds)
        except (subprocess.CalledProcessError, psycopg.Error, RuntimeError) as exc:
            self.say(f"[yellow]pgbench failed: {exc}[/yellow]")
            return None
        if result is None:
            self.say("[yellow]pgbench not found: no PostgreSQL ceiling[/yellow]")
        else:
            self.say(f"pgbench -N: {result.tps:,.0f} transactions/s ({result.binary})")
        return result

    def health_max(self, seconds: float) -> Step:
        spec = self.spec("health", 0, seconds, closed_connections=self.args.health_connections)
        spec.label = f"GET /health closed loop x{self.args.health_connections}"
        holder: list[Step] = []
        with self.costs(holder):
            result, cpu = self.run_loadgen(spec)
            step = summarize(result, "health-max")
            step.loadgen_cpu_s = cpu
            holder.append(step)
        self.steps.append(step)
        self.say(
            f"GET /health at full speed: {step.achieved_rps:,.0f} req/s, p50 "
            f"{step.latency.p50:.1f} ms (loadgen {cpu / seconds * 100:.0f}% CPU)"
        )
        return step

    def sweep(self, rates: Sequence[float], duration: float, refine: int) -> dict[str, Any]:
        done: dict[float, Step] = {}
        for rate in rates:
            step = self.deposit_step(rate, duration)
            done[rate] = step
            if step.error_rate > 0.02 or step.achieved_rps < 0.8 * rate:
                skipped = [r for r in rates if r > rate]
                if skipped:
                    self.say(f"overloaded at {rate:g}/s: skipping {skipped}")
                break
        for _ in range(refine):
            passing = [r for r, s in done.items() if s.passed]
            failing = [r for r, s in done.items() if not s.passed]
            low = max(passing, default=0.0)
            above = [r for r in failing if r > low]
            if not above:
                break
            high = min(above)
            mid = round((low + high) / 2 / 25) * 25
            if mid <= low or mid >= high:
                break
            done[mid] = self.deposit_step(mid, duration)
        passing = [r for r, s in done.items() if s.passed]
        max_pass = max(passing, default=None)
        failing = [
            r for r, s in done.items() if not s.passed and (max_pass is None or r > max_pass)
        ]
        return {
            "max_passing_rps": max_pass,
            "first_failing_rps": min(failing, default=None),
            "rates": sorted(done),
        }

    def deposit_step(self, rate: float, duration: float) -> Step:
        step = self.measure("deposit", self.spec("deposit", rate, duration), settle=True)
        step.passed = judge(step)
        return step

    def profile(self, rate: float, duration: float) -> dict[str, Any] | None:
        tree = self.stack.service_tree
        assert tree is not None
        assert self.stack.service is not None
        raw = self.stack.workdir / "profile.collapsed"
        self.say(f"profiling the workers with py-spy at {rate:g} deposits/s for {duration:g} s")
        try:
            recorder = profiling.start_recording(self.stack.service.pid, raw, duration + 1)
        except RuntimeError as exc:
            self.say(f"[yellow]{exc}[/yellow]")
            return None
        time.sleep(0.5)
        step = self.measure("profile", self.spec("deposit", rate, duration), settle=True)
        step.note += "under py-spy sampling; "
        try:
            _, err = recorder.communicate(timeout=duration + 60)
        except subprocess.TimeoutExpired:
            recorder.kill()
            return None
        if not raw.exists():
            self.say(
                f"[yellow]py-spy wrote nothing: {err.decode(errors='replace')[-500:]}[/yellow]"
            )
            return None
        summary = profiling.summarize(raw)
        kept = self.args.results_dir / f"{self.timestamp}-profile.collapsed"
        kept.write_text(raw.read_text())
        summary.raw_path = str(kept.relative_to(ROOT)) if kept.is_relative_to(ROOT) else str(kept)
        out = summary.to_json()
        out["where"] = f"{self.args.server} workers at {rate:g} deposits/s"
        return out

    def sustainable_rate(self) -> float:
        """The highest deposit rate achieved with < 1 % errors (25/s steps, at least 25)."""
        ok = [
            s.achieved_rps
            for s in self.steps
            if s.kind == "deposit" and s.error_rate < 0.01 and s.achieved_rps > 0
        ]
        return max(25.0, math.floor(max(ok, default=25.0) / 25) * 25)

    def callback_burst(self, count: int, rate: float, create_rate: float) -> dict[str, Any]:
        """Deposits left processing, then their signed callbacks POSTed directly."""
        stack = self.stack
        stack.set_behaviour(callback_delay_ms=600_000)  # the sandbox stays silent
        since = datetime.now(UTC)
        create_rate = min(create_rate, 400.0)
        count = min(count, int(create_rate * 20))
        self.say(f"callbacks: creating {count} deposits at {create_rate:g}/s, left processing")
        result, _ = self.run_loadgen(self.spec("deposit", create_rate, count / create_rate))
        time.sleep(0.5)
        with psycopg.connect(stack.url) as conn:
            rows = conn.execute(
                "SELECT id::text, gateway_id, reference_id, amount_minor, currency "
                "FROM transactions WHERE created_at >= %s AND status = 'processing'",
                (since,),
            ).fetchall()
        stack.set_behaviour()
        templates = [_callback_template(stack.secrets.webhook, *row) for row in rows]
        if not templates:
            raise RuntimeError(f"no processing deposits to call back: {result.errors}")
        self.say(f"callbacks: POSTing {len(templates)} signed callbacks at {rate:g}/s")
        applied_since = datetime.now(UTC)
        spec = self.spec("callback", rate, len(templates) / rate, templates=templates)
        holder: list[Step] = []
        with self.costs(holder):
            posted, cpu = self.run_loadgen(spec)
            step = summarize(posted, "callback")
            step.loadgen_cpu_s = cpu
            holder.append(step)
            ids = [row[0] for row in rows]
            deadline = time.monotonic() + 120
            with psycopg.connect(stack.url, autocommit=True) as conn:
                progress = (time.monotonic(), -1)
                while time.monotonic() < deadline:
                    row = conn.execute(
                        "SELECT count(*) FILTER (WHERE status = 'completed'), "
                        "extract(epoch FROM max(updated_at) - %s) "
                        "FROM transactions WHERE id = ANY(%s::uuid[])",
                        (applied_since, ids),
                    ).fetchone()
                    assert row is not None
                    if int(row[0]) >= len(ids):
                        break
                    if int(row[0]) != progress[1]:
                        progress = (time.monotonic(), int(row[0]))
                    elif time.monotonic() - progress[0] > 10:
                        break  # the rest will not be applied (see the service log)
                    time.sleep(0.2)
        applied, span = int(row[0]), float(row[1] or math.nan)
        step.completed = applied
        step.applied_rps = applied / span if span and span > 0 else math.nan
        self.steps.append(step)
        self._print_step(step)
        self.say(
            f"callbacks applied: {applied}/{len(ids)} in {span:.2f} s → {step.applied_rps:,.0f}/s"
        )
        return {
            "posted": len(templates),
            "offered_rps": rate,
            "accepted_rps": step.achieved_rps,
            "accept_p99_ms": step.latency.p99,
            "applied": applied,
            "apply_span_s": span,
            "applied_rps": step.applied_rps,
            "errors": step.errors,
        }

    # -- the whole run --------------------------------------------------------
    def run(self) -> dict[str, Any]:
        args = self.args
        quick = args.quick
        rates = [
            float(r) for r in (args.rates or (QUICK_RATES if quick else DEFAULT_RATES)).split(",")
        ]
        duration = args.duration or (4.0 if quick else 15.0)
        refine = args.refine if args.refine is not None else (0 if quick else 2)
        do_profile = args.profile if args.profile is not None else not quick
        callbacks = args.callbacks or (500 if quick else 2000)
        args.results_dir.mkdir(parents=True, exist_ok=True)
        run: dict[str, Any] = {}
        with self.stack.running(self.say):
            run["meta"] = self.meta(duration)
            pgb = self.pgbench()
            self.say("warm-up: 3 s of deposits at 100/s")
            self.measure("warmup", self.spec("deposit", 100, 2 if quick else 3), settle=True)
            for rate in rates:
                self.measure(
                    "health",
                    self.spec("health", rate, min(duration, 5 if quick else 10)),
                    settle=False,
                )
            health_max = self.health_max(2 if quick else 5)
            sweep = self.sweep(rates, duration, refine)
            sustainable = self.sustainable_rate()
            prof = None
            if do_profile:
                prof = self.profile(args.profile_rate or min(500.0, sustainable), min(duration, 10))
            cb = self.callback_burst(callbacks, args.callback_rate, sustainable)
            run.update(
                pgbench=pgb.to_json() if pgb else None,
                sweep=sweep,
                callbacks=cb,
                profile=prof,
                health_max=health_max.to_json(),
                service_warnings=_warnings(self.stack.service_log),
            )
            run["ratio_lines"], run["targets"] = self.ratios(pgb, health_max, sweep, cb)
        run["steps"] = [s.to_json() for s in self.steps]
        return run

    def meta(self, duration: float) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp,
            "server": self.args.server,
            "workers": self.args.workers,
            "sandbox_workers": self.args.sandbox_workers,
            "gateway_latency_ms": self.args.gateway_latency_ms,
            "callback_delay_ms": self.args.callback_delay_ms,
            "duration_s": duration,
            "kafka": bool(self.stack.kafka_bootstrap),
            "users": self.args.users,
            "idempotency_keys": self.args.idempotency_keys,
            "database": self.stack.database_note,
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "commit": _git_commit(),
            "service_command": " ".join(
                Path(a).name if a == sys.executable else a for a in self.stack.service_command()
            ),
            "log_level": self.args.log_level,
            "quick": self.args.quick,
        }

    def ratios(
        self,
        pgb: PgbenchResult | None,
        health_max: Step,
        sweep: dict[str, Any],
        cb: dict[str, Any],
    ) -> tuple[list[str], dict[str, Any]]:
        deposits = {s.offered_rps: s for s in self.steps if s.kind == "deposit"}
        health = {s.offered_rps: s for s in self.steps if s.kind == "health"}
        best = sweep["max_passing_rps"]
        best_step = deposits.get(best) if best else None
        # Saturation: the most deposits/s achieved by a step with < 1 % errors.
        clean = [s for s in deposits.values() if s.error_rate < 0.01]
        saturation = max(clean, key=lambda s: s.achieved_rps, default=None)
        sat_rps = saturation.achieved_rps if saturation else 0.0
        ceiling = health_max.achieved_rps
        lines = [
            f"Framework ceiling: the same server answers GET /health at {ceiling:,.0f} req/s "
            f"(closed loop, {self.args.health_connections} connections). Highest deposit rate "
            f"passing the sweep: {f'{best:g}/s' if best else 'none'} = "
            f"{(best or 0) / ceiling:.1%} of it; most deposits/s achieved without errors: "
            f"{sat_rps:,.0f}/s = {sat_rps / ceiling:.1%} of it."
        ]
        for rate, step in sorted(deposits.items()):
            h = health.get(rate)
            if h is None or step.errors or math.isnan(step.cpu_s_per_1000):
                continue  # overloaded steps: their cost per deposit is the overload's
            lines.append(
                f"At {rate:g}/s a deposit costs {step.cpu_s_per_1000 / h.cpu_s_per_1000:.0f}x the "
                f"service CPU of GET /health ({step.cpu_s_per_1000:.2f} vs "
                f"{h.cpu_s_per_1000:.2f} s per 1,000); p50/p99 overhead "
                f"{step.overhead.p50:.1f}/{step.overhead.p99:.1f} ms vs /health latency "
                f"{h.latency.p50:.1f}/{h.latency.p99:.1f} ms."
            )
        if saturation is not None and saturation.ok:
            per = 1000 / saturation.ok
            parts = {
                "service": saturation.service_cpu_s * per,
                "PostgreSQL": saturation.pg_cpu_s * per,
                "sandbox": saturation.sandbox_cpu_s * per,
                "load generator": saturation.loadgen_cpu_s * per,
            }
            known = sum(v for v in parts.values() if not math.isnan(v))
            cpus = os.cpu_count() or 1
            lines.append(
                f"CPU budget at {saturation.offered_rps:g}/s offered: a deposit with its callback "
                "costs "
                + ", ".join(
                    f"{name} {ms:.2f} ms" for name, ms in parts.items() if not math.isnan(ms)
                )
                + f" = {known:.2f} ms of CPU, so {cpus} cores cap the whole box near "
                f"{cpus * 1000 / known:,.0f} deposits/s (machine busy "
                f"{saturation.machine_cpu_pct:.0f}% during the step, other work included)."
            )
        commits = [
            s.commits_per_request
            for s in deposits.values()
            if not math.isnan(s.commits_per_request) and s.error_rate < 0.01
        ]
        per_deposit = sorted(commits)[len(commits) // 2] if commits else math.nan
        if pgb is not None:
            lines.append(
                f"PostgreSQL commit ceiling: pgbench -N {pgb.tps:,.0f} tx/s (8 clients). A deposit "
                f"with its callback costs ≈{per_deposit:.1f} commits (median over the steps), so "
                f"commits alone would cap deposits near {pgb.tps / per_deposit:,.0f}/s; at "
                f"{sat_rps:,.0f}/s we use {sat_rps * per_deposit / pgb.tps:.0%} of the commit "
                "ceiling."
            )
        if cb:
            lines.append(
                f"Callbacks: {cb['applied_rps']:,.0f} applied/s end to end (burst of "
                f"{cb['posted']} signed callbacks POSTed at {cb['offered_rps']:g}/s, accepted at "
                f"{cb['accepted_rps']:,.0f}/s with p99 {cb['accept_p99_ms']:.1f} ms)."
            )
        at500 = deposits.get(500.0)
        rss = max(
            (s.rss_peak_mb for s in self.steps if not math.isnan(s.rss_peak_mb)), default=math.nan
        )
        pss = max(
            (s.pss_peak_mb for s in self.steps if not math.isnan(s.pss_peak_mb)), default=math.nan
        )
        targets = {
            "max_sustained_rps": best,
            "saturation_rps": sat_rps,
            "target_1000_rps": bool(best and best >= 1000),
            "p99_overhead_at_500_ms": at500.overhead.p99 if at500 else None,
            "p50_overhead_at_500_ms": at500.overhead.p50 if at500 else None,
            "cpu_s_per_1000_at_500": at500.cpu_s_per_1000 if at500 else None,
            "rss_peak_mb": rss,
            "pss_peak_mb": pss,
            "commits_per_deposit": per_deposit,
        }
        ref = at500 or best_step or saturation
        if ref is not None:
            where = f"at {ref.offered_rps:g}/s" + ("" if at500 else " (no 500/s step)")
            lines.append(
                f"Targets, {where}: p99 overhead {ref.overhead.p99:.1f} ms (target ≤ 20), p50 "
                f"{ref.overhead.p50:.1f} ms (≤ 5), CPU {ref.cpu_s_per_1000:.2f} s per 1,000 "
                f"deposits (≤ 1); peak RSS {rss:.0f} MB, PSS {pss:.0f} MB (≤ 250); sustained "
                f"{best or 0:g}/s (≥ 1,000)."
            )
        return lines, targets


def _callback_template(
    webhook: dict[str, str],
    transaction_id: str,
    gateway_id: str,
    reference_id: str,
    amount_minor: int,
    currency: str,
) -> RequestTemplate:
    """A signed callback completing one deposit, as that gateway's family sends it."""
    from adapters.gateways.signing_json import SIGNATURE_HEADER, sign_json
    from adapters.gateways.signing_soap import (
        NotificationItem,
        build_notification,
        sign_adyen_item,
    )

    secret = webhook[gateway_id]
    if GATEWAYS[gateway_id] == "soap":
        item = NotificationItem(
            psp_reference=reference_id,
            original_reference="",
            merchant_account="PaymentsPlatform",
            merchant_reference=transaction_id,
            value=amount_minor,
            currency=currency.strip(),
            event_code="AUTHORISATION",
            success=True,
            reason="",
            event_date=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        body = build_notification([sign_adyen_item(item, secret)])
        return RequestTemplate(
            "POST", f"/callback/{gateway_id}", (("Content-Type", "text/xml; charset=utf-8"),), body
        )
    payload = json.dumps(
        {
            "event_id": f"evt_bench_{transaction_id}",
            "transaction_id": transaction_id,
            "reference_id": reference_id,
            "status": "completed",
            "message": "Payment successful",
        }
    ).encode()
    signature = sign_json(payload, [secret], int(time.time()))
    return RequestTemplate(
        "POST",
        f"/callback/{gateway_id}",
        (("Content-Type", "application/json"), (SIGNATURE_HEADER, signature)),
        payload,
    )


def _rate(value: float | None) -> str:
    return "none" if not value else f"{value:g}"


def _busy(times: Any) -> float:
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def _warnings(path: Path, top: int = 20) -> list[tuple[str, int]]:
    """The service's WARNING-and-worse log messages (and non-JSON lines), most frequent first."""
    counts: Counter[str] = Counter()
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            counts[line[:200]] += 1
            continue
        if isinstance(record, dict) and record.get("level") in ("WARNING", "ERROR", "CRITICAL"):
            counts[
                f"{record['level']} {record.get('logger')}: {str(record.get('message'))[:200]}"
            ] += 1
    return counts.most_common(top)


def main(argv: Sequence[str] | None = None, console: Console | None = None) -> int:
    args = _parser().parse_args(argv)
    console = console or Console()
    if args.render is not None:
        return render(args.render, console)
    harness = Harness(args, console)
    started = time.monotonic()
    try:
        run = harness.run()
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]")
        return 130
    except RuntimeError as exc:
        console.print(f"[red]benchmark failed:[/red] {exc}")
        return 1
    run["meta"]["wall_s"] = round(time.monotonic() - started, 1)
    base = args.results_dir / harness.timestamp
    write_json(base.with_suffix(".json"), run)
    publish(run, harness.steps, base, console)
    return 0


def publish(run: dict[str, Any], steps: Sequence[Step], base: Path, console: Console) -> None:
    """Write the markdown and the plot next to ``base``.json and print the tables."""
    meta = run["meta"]
    shown = [s for s in steps if s.kind != "warmup"]
    base.with_suffix(".md").write_text(markdown(run, shown))
    title = (
        f"{meta['server']} x{meta['workers']}, gateway {meta['gateway_latency_ms']} ms, "
        f"{meta['cpus']} CPUs, {meta['timestamp']}"
    )
    plotted = plot(base.with_suffix(".png"), shown, title)
    console.print()
    console.print(step_table(shown), markup=False)
    console.print()
    console.print(cost_table(shown), markup=False)
    console.print()
    for line in run.get("ratio_lines", []):
        console.print(f"- {line}", markup=False)
    console.print(
        f"\nhighest passing rate: {_rate(run['sweep']['max_passing_rps'])} deposits/s; "
        f"written {base}.json, .md"
        + (", .png" if plotted else " (no matplotlib: no plot)")
        + (f" in {meta['wall_s']:.0f} s" if meta.get("wall_s") else "")
    )


def render(path: Path, console: Console) -> int:
    """Rewrite the markdown and the plot of a saved run (and re-read its profile)."""
    run = json.loads(path.read_text())
    profile = run.get("profile")
    raw = ROOT / profile["raw_path"] if profile and profile.get("raw_path") else None
    if profile and raw is not None and raw.exists():
        fresh = profiling.summarize(raw).to_json()
        fresh["raw_path"], fresh["where"] = profile["raw_path"], profile.get("where", "")
        run["profile"] = fresh
        write_json(path, run)
    publish(run, [Step.from_json(s) for s in run["steps"]], path.with_suffix(""), console)
    return 0
