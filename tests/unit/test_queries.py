from datetime import timedelta

import pytest

from adapters.memory.store import MemoryStore
from application.deposit import DepositCommand
from application.list_transactions import ListTransactionsQuery
from domain.errors import InvalidInput, NotFound
from domain.money import Money
from domain.transaction import Transaction, TransactionType
from tests.unit.conftest import World


def seed(store: MemoryStore, n: int) -> list[Transaction]:
    from datetime import UTC, datetime

    base = datetime(2026, 1, 1, tzinfo=UTC)
    txs = []
    for i in range(n):
        tx = Transaction.create(
            transaction_id=f"t{i:03d}",
            type=TransactionType.DEPOSIT,
            user_id=1 + i % 2,
            money=Money.parse("1.00", "USD"),
            # pairs share a timestamp so the id must break ties
            now=base + timedelta(seconds=i // 2),
        )
        store.transactions[tx.id] = tx
        txs.append(tx)
    return txs


async def test_get_transaction_returns_it_with_attempts(world: World) -> None:
    tx = await world.container.deposit().execute(DepositCommand(1, "5.00", "USD"))
    details = await world.container.get_transaction().execute(tx.id)
    assert details.transaction.id == tx.id
    assert len(details.transaction.attempts) == 1
    assert [(e.action, e.details["version"]) for e in details.history] == [
        ("transaction.created", 1),
        ("transaction.processing", 2),
    ]
    assert {e.actor for e in details.history} == {"system"}


async def test_get_unknown_transaction_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        await world.container.get_transaction().execute("nope")


async def test_list_pages_newest_first_without_gaps_or_repeats(world: World) -> None:
    txs = seed(world.store, 7)
    use_case = world.container.list_transactions()
    seen: list[str] = []
    cursor = None
    while True:
        page = await use_case.execute(ListTransactionsQuery(limit=3, cursor=cursor))
        seen += [t.id for t in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    expected = [t.id for t in sorted(txs, key=lambda t: (t.created_at, t.id), reverse=True)]
    assert seen == expected


async def test_list_filters_by_user_and_status(world: World) -> None:
    seed(world.store, 6)
    page = await world.container.list_transactions().execute(
        ListTransactionsQuery(user_id=2, status="pending")
    )
    assert {t.user_id for t in page.items} == {2}
    assert len(page.items) == 3


@pytest.mark.parametrize(
    "query",
    [
        ListTransactionsQuery(status="weird"),
        ListTransactionsQuery(limit=0),
        ListTransactionsQuery(limit=1000),
        ListTransactionsQuery(cursor="%%%"),
        ListTransactionsQuery(cursor="bm90LWEtY3Vyc29y"),
    ],
)
async def test_bad_list_queries_are_invalid_input(
    world: World, query: ListTransactionsQuery
) -> None:
    with pytest.raises(InvalidInput):
        await world.container.list_transactions().execute(query)


async def test_upsert_user_creates_then_moves(world: World) -> None:
    use_case = world.container.upsert_user()
    created = await use_case.execute(10, "GB")
    moved = await use_case.execute(10, "US")
    assert (created.created, moved.created) == (True, False)
    assert world.store.users[10].country.value == "US"


@pytest.mark.parametrize("country", ["ZZ", "us", "USA", ""])
async def test_upsert_user_refuses_unknown_or_malformed_countries(
    world: World, country: str
) -> None:
    with pytest.raises(InvalidInput):
        await world.container.upsert_user().execute(11, country)
    assert 11 not in world.store.users
