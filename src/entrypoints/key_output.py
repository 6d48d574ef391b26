"""What ``payments keys`` prints: the rotation's progress bar (stderr) and the reports (stdout)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from application.encryption_keys.ports import KeyUsage
from application.encryption_keys.rotate import RotationReport
from entrypoints.key_config import KeyTarget


class RichRotationProgress:
    """RotationProgress for a terminal."""

    def __init__(self, where: str) -> None:
        self._where = where

    def key_added(self, key_id: str) -> None:
        print(f"added key {key_id} as the primary in {self._where}", file=sys.stderr)

    @contextmanager
    def reencrypting(self, primary: str) -> Iterator[Callable[[int, int], None]]:
        # Imported here: only this command draws a progress bar.
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = (
            TextColumn(f"re-encrypting under {primary}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=Console(stderr=True)) as progress:
            task = progress.add_task("re-encrypt", total=None)

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            yield on_progress


def print_rotation(report: RotationReport, target: KeyTarget) -> None:
    usage = report.usage
    print(f"primary key: {usage.primary}")
    print(f"re-encrypted: {report.rewritten} ciphertext(s) in {report.elapsed_s:.1f} s")
    _print_usage(usage)
    if usage.not_primary:
        print(
            "still in use: "
            + ", ".join(f"{k} ({n})" for k, n in usage.not_primary.items())
            + " (rows locked or written meanwhile; rerun"
            + (" with --resume)" if target.editable else ")")
        )
    _print_removable(usage, target)
    if not report.audited:
        print("(no audit_log table: rotation not recorded)", file=sys.stderr)


def print_status(usage: KeyUsage, target: KeyTarget) -> None:
    print(f"keys from:   {target.where}")
    print(f"primary key: {usage.primary}")
    _print_usage(usage)
    _print_removable(usage, target)
    if usage.missing:
        print(
            "DANGER: in use but not configured (those rows cannot be decrypted): "
            + ", ".join(f"{k} ({usage.counts[k]})" for k in usage.missing)
        )


def _print_usage(usage: KeyUsage) -> None:
    print("ciphertexts per key:")
    if not usage.counts:
        print("  (none stored)")
    for key_id, count in usage.counts.items():
        print(f"  {key_id}: {count}")


def _print_removable(usage: KeyUsage, target: KeyTarget) -> None:
    if not usage.removable:
        print("removable keys: none")
        return
    how = (
        "`payments keys retire KEY_ID`" if target.editable else "drop from PAYMENTS_ENCRYPTION_KEYS"
    )
    print(f"removable keys: {', '.join(usage.removable)} ({how})")
