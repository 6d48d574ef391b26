"""In-memory Ledger: the database's rules over plain dicts."""

from __future__ import annotations

from adapters.memory.store import BALANCE_MAX, Staged
from domain.errors import LedgerLimitExceeded
from domain.funds import may_go_negative, refuse_overdraft
from domain.ledger import Account, AccountKind, Balance, Journal


class MemoryLedger:
    """Same rules as the database: balanced journals, once each, no overdraft."""

    def __init__(self, staged: Staged) -> None:
        self._staged = staged

    def book(self, journal: Journal) -> bool:
        """Stage the journal's moves; False when it was booked before.

        Called by the unit of work's commit (the only writer of journals),
        which then calls ``check``: like the database's one statement per
        commit, the funds are checked on the balances the commit ends with.
        """
        booked = self._staged.store.journals + self._staged.journals
        if any(
            (j.transaction_id, j.kind) == (journal.transaction_id, journal.kind) for j in booked
        ):
            return False
        for posting in journal.postings:
            a = posting.account
            key = (a.user_id, a.currency, a.kind)
            self._staged.balance_moves[key] = (
                self._staged.balance_moves.get(key, 0) + posting.amount_minor
            )
        self._staged.journals.append(journal)
        return True

    def check(self) -> None:
        """InsufficientFunds or LedgerLimitExceeded when a staged balance breaks the rules."""
        after = {Account(*key): self._staged.balance(key) for key in self._staged.balance_moves}
        refuse_overdraft(after)
        if any(b > BALANCE_MAX and not may_go_negative(a) for a, b in after.items()):
            # The database stores balances as BIGINT: the same limit here.
            raise LedgerLimitExceeded("a balance would leave the stored range")

    async def balances(self, user_id: int) -> list[Balance]:
        currencies = {
            c
            for (u, c, _) in {**self._staged.store.balances, **self._staged.balance_moves}
            if u == user_id
        }
        return [
            Balance(
                c,
                self._staged.balance((user_id, c, AccountKind.AVAILABLE)),
                self._staged.balance((user_id, c, AccountKind.HELD)),
            )
            for c in sorted(currencies)
        ]
