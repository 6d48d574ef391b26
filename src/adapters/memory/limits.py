"""In-memory LimitRepository: limits, reversal windows and admission reads over the store."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from adapters.memory.store import Staged
from application.ports import AdmissionView, CountryLimits
from domain.closed_loop import FundingSource
from domain.ledger import AccountKind
from domain.limits import Counted
from domain.transaction import Transaction, TransactionStatus, TransactionType


class MemoryLimits:
    def __init__(self, staged: Staged) -> None:
        self._staged = staged

    def _transactions(self) -> list[Transaction]:
        return list({**self._staged.store.transactions, **self._staged.transactions}.values())

    async def country_limits(self, country: str) -> CountryLimits | None:
        found = self._staged.country_limits.get(country) or self._staged.store.country_limits.get(
            country
        )
        loop = self._staged.store.closed_loop.get(country, False)
        if found is None:
            return CountryLimits("", closed_loop=True) if loop else None
        return replace(found, closed_loop=loop)

    async def replace_country_limits(self, country: str, limits: CountryLimits) -> None:
        self._staged.country_limits[country] = limits

    async def admission(
        self,
        *,
        user_id: int,
        currency: str,
        operation: TransactionType,
        counted_since: datetime | None,
        funds_at: datetime | None,
    ) -> AdmissionView:
        recent = [
            Counted(t.created_at, t.money.minor)
            for t in self._transactions()
            if counted_since is not None
            and (t.user_id, t.type, t.money.currency.code) == (user_id, operation, currency)
            and t.status is not TransactionStatus.FAILED
            and t.parent_transaction_id is None
            and t.created_at > counted_since
        ]
        if funds_at is None:
            return AdmissionView(recent)
        in_window = (await self.in_window(user_id, funds_at)).get(currency, 0)
        if not in_window:
            return AdmissionView(recent)
        available = self._staged.balance((user_id, currency, AccountKind.AVAILABLE))
        return AdmissionView(recent, available, in_window)

    async def in_window(self, user_id: int, at: datetime) -> dict[str, int]:
        windows = {**self._staged.store.reversal_windows, **self._staged.reversal_windows}
        everything = self._transactions()
        out: dict[str, int] = {}
        for d in everything:
            hours = windows.get(d.gateway_id or "", 0)
            if (
                d.user_id != user_id
                or d.type is not TransactionType.DEPOSIT
                or d.status is not TransactionStatus.COMPLETED
                or hours <= 0
                or d.updated_at + timedelta(hours=hours) <= at
            ):
                continue
            claimed = sum(
                r.money.minor
                for r in everything
                if r.parent_transaction_id == d.id and r.status is not TransactionStatus.FAILED
            )
            code = d.money.currency.code
            out[code] = out.get(code, 0) + d.money.minor - claimed
        return out

    async def set_reversal_window(self, gateway_id: str, hours: int) -> bool:
        if gateway_id not in self._staged.store.gateways:
            return False
        self._staged.reversal_windows[gateway_id] = hours
        return True

    async def funding_sources(self, user_id: int, currency: str) -> list[FundingSource]:
        everything = self._transactions()
        mine = [t for t in everything if (t.user_id, t.money.currency.code) == (user_id, currency)]
        out = []
        for gateway in sorted({t.gateway_id for t in mine if t.gateway_id}):
            deposits = [
                t
                for t in mine
                if t.type is TransactionType.DEPOSIT
                and t.status is TransactionStatus.COMPLETED
                and t.gateway_id == gateway
            ]
            if not deposits:
                continue
            refunded = sum(
                r.money.minor
                for r in everything
                if r.type is TransactionType.REFUND
                and r.status is not TransactionStatus.FAILED
                and r.parent_transaction_id in {d.id for d in deposits}
            )
            returned = sum(
                leg.money.minor
                for leg in mine
                if leg.type is TransactionType.WITHDRAWAL
                and leg.parent_transaction_id is not None
                and leg.status is not TransactionStatus.FAILED
                and leg.gateway_id == gateway
            )
            funded = sum(d.money.minor for d in deposits) - refunded
            last = max(d.updated_at for d in deposits)
            out.append(FundingSource(gateway, funded, returned, last))
        return out
