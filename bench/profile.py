"""Sampling profile of the service workers during a load step (py-spy).

``py-spy record --format raw`` writes collapsed stacks (``frame;frame;… count``)
of every worker process; :func:`summarize` turns them into the tables the
report shows: the functions with the most samples on top of the stack (self)
and anywhere in it (inclusive), and the share of each package (our layers,
litestar, psycopg, httpx, …) by self time. Idle time (waiting in the event
loop's selector) is not sampled, so shares are of the CPU the workers used.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# "function (path/to/file.py:123)" as py-spy prints one frame.
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::(?P<line>\d+))?\)$")
_LAYERS = ("domain", "application", "adapters", "entrypoints")
# Frames every sample of a worker has: left out of the inclusive table.
_NATIVE_THREAD = "(native thread) (<native>)"
_NATIVE_LABELS = ("(native threads: granian's Rust runtime)", "(event loop + granian native I/O)")
_ROOTS = frozenset({"granian", "click", "stdlib", "uvicorn"})


@dataclass
class ProfileSummary:
    samples: int
    self_top: list[tuple[str, int]] = field(default_factory=list)
    inclusive_top: list[tuple[str, int]] = field(default_factory=list)
    packages: list[tuple[str, int]] = field(default_factory=list)
    raw_path: str = ""
    supervisor_samples: int = 0
    native_samples: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "self_top": self.self_top,
            "inclusive_top": self.inclusive_top,
            "packages": self.packages,
            "raw_path": self.raw_path,
            "supervisor_samples": self.supervisor_samples,
            "native_samples": self.native_samples,
        }


def find_py_spy() -> str | None:
    candidate = Path(sys.executable).parent / "py-spy"
    if candidate.exists():
        return str(candidate)
    return shutil.which("py-spy")


def start_recording(
    pid: int, out: Path, seconds: float, rate: int = 100
) -> subprocess.Popen[bytes]:
    """Record ``pid`` and its child processes for ``seconds`` (runs in the background)."""
    binary = find_py_spy()
    if binary is None:
        raise RuntimeError("py-spy is not installed (uv sync --dev)")
    return subprocess.Popen(  # noqa: S603
        [
            binary,
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--format",
            "raw",
            "--rate",
            str(rate),
            "--duration",
            str(max(1, round(seconds))),
            "--output",
            str(out),
            # e.g. "--native" (event loop, granian, libpq frames too) or "--gil"
            # (only samples holding the GIL: Python's own CPU, no idle threads).
            *os.environ.get("PAYMENTS_BENCH_PYSPY_ARGS", "").split(),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _package(file: str) -> str:
    """``payments:<layer>``, a distribution's top-level package, or ``stdlib``.

    py-spy prints paths relative to their sys.path entry (``psycopg/cursor.py``),
    absolute ones only outside it.
    """
    if file.startswith("<"):
        return "stdlib"  # <frozen runpy>, <string> (dataclass __init__)
    for marker in ("/site-packages/", "/src/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    top = Path(file).parts[0] if Path(file).parts else "?"
    top = top.removesuffix(".py")
    if top in _LAYERS:
        return f"payments:{top}"
    if top in sys.stdlib_module_names or "/lib/python3" in file:
        return "stdlib"
    return top


def _label(frame: str) -> tuple[str, str]:
    """A readable function label (``func (file)``, no line) and its package."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip(), "?"
    func, file = match.group("func"), match.group("file")
    if frame == _NATIVE_THREAD:
        return _NATIVE_LABELS[0], "granian"
    if func == "MPServer._spawn_asgi_lifespan_worker":
        # granian's worker parks in loop.run_until_complete: samples whose
        # innermost Python frame is this one are the event loop and granian's
        # Rust HTTP server doing native work (no Python frame above them).
        return _NATIVE_LABELS[1], "granian"
    return f"{func} ({file})", _package(file)


def _samples(raw: Path) -> list[tuple[int, list[str], int]]:
    """(process depth, frames root first, count) of each collapsed stack."""
    out = []
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        parts = [f for f in stack.split(";") if f]
        # --subprocesses: a "process <pid>:<cmdline>" frame for the process and each parent.
        depth = sum(1 for f in parts if f.startswith("process ") and not _FRAME.match(f))
        frames = [f for f in parts if _FRAME.match(f.strip())]
        if not frames and depth:
            # A thread with no Python frame at all: the server's native runtime
            # (granian's Rust threads: HTTP parsing, socket I/O).
            frames = [_NATIVE_THREAD]
        if frames:
            out.append((depth, frames, int(count_text)))
    return out


def summarize(raw: Path, top: int = 25) -> ProfileSummary:
    """Tables of the worker processes' Python samples.

    With worker subprocesses (granian always, uvicorn with --workers) the
    supervising parent's samples are counted apart and left out. Samples with
    no Python frame above the event loop (the loop's own C code, granian's Rust
    threads) are counted apart too (``native_samples``): py-spy cannot tell
    their waiting from their work, so they overstate CPU and would swamp the
    shares. Every share in the tables is of ``samples``, the Python ones.
    """
    samples = _samples(raw)
    workers_depth = max((depth for depth, _, _ in samples), default=1)
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = supervisor = native = 0
    for depth, frames, count in samples:
        if depth < workers_depth:
            supervisor += count
            continue
        labels = [_label(f) for f in frames]
        if labels[-1][0] in _NATIVE_LABELS:
            native += count
            continue
        total += count
        self_counts[labels[-1][0]] += count
        # Standard library time goes to the package that called into it
        # (json.dumps under logging counts for whoever logged).
        owner = next((pkg for _, pkg in reversed(labels) if pkg != "stdlib"), "stdlib")
        packages[owner] += count
        for name in {label for label, pkg in labels if pkg not in _ROOTS}:
            inclusive[name] += count
    return ProfileSummary(
        samples=total,
        self_top=self_counts.most_common(top),
        inclusive_top=inclusive.most_common(top * 2),
        packages=packages.most_common(),
        raw_path=str(raw),
        supervisor_samples=supervisor,
        native_samples=native,
    )
