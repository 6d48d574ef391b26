"""The harness's processes: started in groups of their own, stopped by id, and measured."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path

import psutil

from bench.paths import ROOT


class ProcessTree:
    """CPU and memory of a process and its descendants (psutil)."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self._known: dict[int, psutil.Process] = {}

    def processes(self) -> list[psutil.Process]:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        # Keep Process objects (their cpu_times cache) stable across calls.
        for proc in procs:
            self._known.setdefault(proc.pid, proc)
        return [self._known[p.pid] for p in procs]

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self.processes():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def rss_bytes(self, *, workers_only: bool = False) -> int:
        procs = self.processes()
        if workers_only and len(procs) > 1:
            procs = procs[1:]
        total = 0
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def pss_bytes(self) -> int:
        """Proportional set size: forked workers' shared pages counted once in the sum."""
        total = 0
        for proc in self.processes():
            with contextlib.suppress(psutil.Error, AttributeError):
                total += proc.memory_full_info().pss
        return total

    def worker_pids(self) -> list[int]:
        procs = self.processes()
        return [p.pid for p in (procs[1:] if len(procs) > 1 else procs)]


class RssSampler:
    """Samples the memory of process trees in a thread; keeps the peaks.

    ``peak`` is the sum of RSS over the tree (what the issue's target is about,
    and an overestimate for forked workers, which share pages); ``peak_pss``
    the sum of PSS, sampled less often (reading smaps costs more).
    """

    def __init__(self, trees: Mapping[str, ProcessTree], interval_s: float = 0.25) -> None:
        self._trees = trees
        self._interval = interval_s
        self.peak: dict[str, int] = dict.fromkeys(trees, 0)
        self.peak_pss: dict[str, int] = dict.fromkeys(trees, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        rounds = 0
        while not self._stop.is_set():
            for name, tree in self._trees.items():
                self.peak[name] = max(self.peak[name], tree.rss_bytes())
                if rounds % 4 == 0:
                    self.peak_pss[name] = max(self.peak_pss[name], tree.pss_bytes())
            rounds += 1
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def spawn(cmd: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603
            cmd,
            env=dict(env),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # our own group: stopped as a whole, by its id
        )


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
