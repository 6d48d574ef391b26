"""One benchmark run's stack, steps and console: measures one load step at a time.

A step is the load generator in its own process (with a live progress line),
inside a cost window (CPU, memory, commits); deposit steps then wait until
every deposit is final and ``payments check`` passes. The phases of a run
(``bench.run``) are built from these steps.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from bench import settling
from bench.costs import background_cpu, cost_window
from bench.loadspec import LoadResult, LoadSpec, RequestTemplate
from bench.paths import ROOT
from bench.stack import Stack
from bench.steps import Step, summarize
from bench.templates import deposit_templates


class Harness:
    """The stack under test and the steps measured on it so far."""

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
            webhook_endpoints=args.webhook_endpoints,
            webhook_hanging=args.webhook_hanging,
        )
        self.steps: list[Step] = []
        self.timestamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        self._spec_no = 0

    def say(self, message: str) -> None:
        self.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")

    def spec(self, kind: str, rate: float, duration: float, **extra: Any) -> LoadSpec:
        templates = (
            [RequestTemplate("GET", "/health")]
            if kind == "health"
            else deposit_templates(self.stack)
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

    def costs(self, step_holder: list[Step]) -> AbstractContextManager[None]:
        """CPU, RSS, commits of everything while the block runs; set on the step it yields."""
        return cost_window(self.stack, step_holder)

    def measure(self, kind: str, spec: LoadSpec, settle: bool) -> Step:
        holder: list[Step] = []
        background = background_cpu()
        since = datetime.now(UTC)
        with self.costs(holder):
            result, loadgen_cpu = self.run_loadgen(spec)
            step = summarize(result, kind)
            step.loadgen_cpu_s = loadgen_cpu
            holder.append(step)
            if settle:
                settling.settle(self.stack, step, since)
        if settle:
            step.invariants = settling.check_invariants(self.stack, self.say)
        step.background_cpu_pct = background
        self.steps.append(step)
        self.print_step(step)
        if step.errors:
            settling.quiesce_sandbox(self.stack, self.say)
            settling.recover(self.stack, self.say)
        return step

    def print_step(self, step: Step) -> None:
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
