"""One simulated PSP whose state is a row of the shared SQLite file (``shared.py``).

Every property reads the file and every change writes it at once, so all the
workers of ``payments sandbox --workers N`` see the same gateway.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from entrypoints.sandbox.psp import (
    Behaviour,
    Format,
    Mode,
    NewPaymentHook,
    PaymentOrder,
    SandboxPayment,
    psp_id,
    redirect_url,
)

# How long a statement waits for another worker's write before failing, and
# how often it tries again meanwhile (writes here take microseconds).
BUSY_TIMEOUT_S = 5.0
RETRY_S = 50e-6
_PAYMENT_COLUMNS = (
    "number, reference, transaction_id, type, amount, currency, user_id, status, created_at"
)
_SELECT_PAYMENTS = f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE gateway_id = ?"  # noqa: S608
# One fixed statement per counter (column names cannot be parameters).
_BUMP = {
    name: f"UPDATE gateways SET {name} = {name} + 1 WHERE id = ?"  # noqa: S608
    for name in ("requests", "lookups", "callbacks_delivered", "callbacks_failed")
}


class Connection:
    """One worker's connection; waits for other workers' writes by retrying briefly.

    SQLite's own busy handler sleeps a millisecond, then longer, on every
    conflict: with several workers writing a few short transactions per
    request, that stalls their event loops for milliseconds. The writes here
    last microseconds, so trying again every ``RETRY_S`` costs far less.
    """

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, timeout=0)
        self.execute("PRAGMA synchronous=OFF")

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                return self._db.execute(statement, params)
            except sqlite3.OperationalError as exc:
                busy = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() > deadline:
                    raise
            time.sleep(RETRY_S)

    def close(self) -> None:
        self._db.close()


class SharedGateway:
    """One simulated PSP over the shared file (satisfies ``PspGateway``)."""

    def __init__(
        self,
        db: Connection,
        gateway_id: str,
        fmt: Format,
        on_new_payment: NewPaymentHook | None,
        merchant_key: str | None = None,
    ) -> None:
        self._db = db
        self._id = gateway_id
        self._format: Format = fmt
        self._on_new_payment = on_new_payment
        self._merchant_key = merchant_key

    @property
    def id(self) -> str:
        return self._id

    @property
    def format(self) -> Format:
        return self._format

    @property
    def merchant_key(self) -> str | None:
        return self._merchant_key

    @property
    def behaviour(self) -> Behaviour:
        row = self._one(
            "SELECT mode, latency_ms, final_status, callback_delay_ms FROM gateways WHERE id = ?"
        )
        return Behaviour(
            mode=row[0], latency_ms=row[1], final_status=row[2], callback_delay_ms=row[3]
        )

    @behaviour.setter
    def behaviour(self, value: Behaviour) -> None:
        self._db.execute(
            "UPDATE gateways SET mode = ?, latency_ms = ?, final_status = ?, callback_delay_ms = ?"
            " WHERE id = ?",
            (value.mode, value.latency_ms, value.final_status, value.callback_delay_ms, self._id),
        )

    @property
    def requests(self) -> int:
        count: int = self._one("SELECT requests FROM gateways WHERE id = ?")[0]
        return count

    def count_request(self) -> None:
        self._db.execute(_BUMP["requests"], (self._id,))

    def count_lookup(self) -> None:
        self._db.execute(_BUMP["lookups"], (self._id,))

    def count_callback(self, *, delivered: bool) -> None:
        counter = "callbacks_delivered" if delivered else "callbacks_failed"
        self._db.execute(_BUMP[counter], (self._id,))

    def find(self, reference: str) -> SandboxPayment | None:
        row = self._db.execute(
            f"{_SELECT_PAYMENTS} AND reference = ?", (self._id, reference)
        ).fetchone()
        return None if row is None else self._payment(row)

    def ledger(self) -> list[SandboxPayment]:
        rows = self._db.execute(f"{_SELECT_PAYMENTS} ORDER BY number", (self._id,))
        return [self._payment(row) for row in rows]

    def record(self, order: PaymentOrder, mode: Mode = "ok") -> tuple[SandboxPayment, bool]:
        """Store the payment once per reference, whichever worker sees it first."""
        created_at = datetime.now(UTC)
        cursor = self._db.execute(
            "INSERT INTO payments (gateway_id, reference, transaction_id, type, amount, currency,"
            " user_id, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'processing', ?)"
            " ON CONFLICT (gateway_id, reference) DO NOTHING",
            (
                self._id,
                order.reference,
                order.transaction_id,
                order.type,
                order.amount,
                order.currency,
                order.user_id,
                created_at.isoformat(),
            ),
        )
        if cursor.rowcount == 0:  # another request (maybe another worker's) was first
            existing = self.find(order.reference)
            assert existing is not None, "payments are never deleted"
            return existing, False
        assert cursor.lastrowid is not None
        payment = order.received(psp_id(self._id, cursor.lastrowid), created_at)
        if self._on_new_payment is not None:
            self._on_new_payment(self, payment, mode)
        return payment, True

    def settle(self, payment: SandboxPayment, status: str) -> None:
        payment.status = status
        self._db.execute(
            "UPDATE payments SET status = ? WHERE gateway_id = ? AND reference = ?",
            (status, self._id, payment.reference),
        )

    def redirect_url(self, payment: SandboxPayment) -> str | None:
        return redirect_url(self._id, payment)

    def _one(self, statement: str) -> tuple[Any, ...]:
        row: tuple[Any, ...] | None = self._db.execute(statement, (self._id,)).fetchone()
        if row is None:
            raise LookupError(f"sandbox gateway {self._id!r} is not in the shared state")
        return row

    def _payment(self, row: tuple[Any, ...]) -> SandboxPayment:
        number, reference, transaction_id, type_, amount, currency, user_id, status, created = row
        return SandboxPayment(
            psp_id=psp_id(self._id, number),
            reference=reference,
            transaction_id=transaction_id,
            type=type_,
            amount=amount,
            currency=currency,
            user_id=user_id,
            status=status,
            created_at=datetime.fromisoformat(created),
        )
