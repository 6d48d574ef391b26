"""Key rotation for data at rest: re-encrypt every stored ciphertext under the primary key.

Every encrypted column is listed in ``ENCRYPTED_COLUMNS`` with how its
associated data is derived, so a rotation reaches all of them; a new
encrypted column must be added there too (``keys status`` would otherwise
report its key ids as "in use" long after the old key was dropped).

Re-encryption runs while the service keeps serving: each batch is one short
transaction that locks only its own rows (``FOR UPDATE SKIP LOCKED``), rows a
request holds are skipped and retried in a later pass, and the service's own
updates never touch the encrypted columns except a webhook secret roll, which
locks its row first, so nothing is overwritten. Reads
work throughout because the keyring decrypts under any key it holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from adapters.crypto.keyring import VERSION, Keyring, KeyringError
from adapters.postgres.inbox import inbox_aad
from adapters.postgres.webhooks_endpoints import previous_secret_aad, secret_aad
from adapters.postgres.write_path import destination_aad

# A full pass that rewrote nothing while rows remain means a transaction
# still holds them; wait this long between passes, at most this many times.
LOCKED_RETRY_WAIT_S = 0.2
MAX_PASSES = 25


@dataclass(frozen=True, slots=True)
class EncryptedColumn:
    """One encrypted column: where it lives and how its associated data is built."""

    table: str
    key: str  # the primary key column: batches walk it in order
    column: str
    aad: Callable[[dict[str, Any]], bytes]  # from the row's ``aad_columns``
    aad_columns: tuple[str, ...] = field(default=())


ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    EncryptedColumn(
        "transactions",
        "id",
        "destination_enc",
        # The repository binds tokens to the uuid's canonical text form.
        lambda row: destination_aad(str(row["id"])),
        ("id",),
    ),
    EncryptedColumn(
        "callback_inbox",
        "id",
        "body_enc",
        lambda row: inbox_aad(row["gateway_id"], row["event_id"]),
        ("gateway_id", "event_id"),
    ),
    EncryptedColumn(
        "webhook_endpoints",
        "id",
        "secret_enc",
        lambda row: secret_aad(str(row["id"])),
        ("id",),
    ),
    EncryptedColumn(
        "webhook_endpoints",
        "id",
        "previous_secret_enc",  # NULL outside a roll's overlap: skipped
        lambda row: previous_secret_aad(str(row["id"])),
        ("id",),
    ),
)


class ReencryptError(KeyringError):
    """A stored ciphertext that cannot be decrypted; nothing of its batch was written."""


async def key_usage(pool: AsyncConnectionPool) -> dict[str, int]:
    """How many stored ciphertexts each key id encrypted, over every encrypted column."""
    usage: dict[str, int] = {}
    async with pool.connection() as conn:
        for column in await _present(conn):
            query = sql.SQL(
                "SELECT split_part({col}, '.', 2), count(*) FROM {table}"
                " WHERE {col} IS NOT NULL GROUP BY 1"
            ).format(col=sql.Identifier(column.column), table=sql.Identifier(column.table))
            cur = await conn.execute(query)
            for key_id, count in await cur.fetchall():
                usage[key_id] = usage.get(key_id, 0) + count
    return dict(sorted(usage.items()))


async def reencrypt(
    pool: AsyncConnectionPool,
    keyring: Keyring,
    *,
    batch_size: int = 200,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Rewrite every ciphertext not under the keyring's primary key; returns rows rewritten.

    ``on_progress(done, total)`` follows each batch; ``total`` is counted up
    front and grows if the service writes rows under an old key meanwhile.
    Idempotent: a second run finds nothing to do. Raises ReencryptError (the
    failing batch rolled back, earlier ones kept) on a token that does not
    decrypt, e.g. under a key id the keyring lacks.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    primary = keyring.primary_key_id
    # LIKE treats "_" as a wildcard and key ids may contain it: escape.
    pattern = f"{VERSION}.{primary}.".replace("\\", "\\\\").replace("_", "\\_") + "%"
    async with pool.connection() as conn:
        columns = await _present(conn)
        total = 0
        for column in columns:
            total += await _remaining(conn, column, pattern)
    done = 0

    def advance(rewritten: int) -> None:
        nonlocal done, total
        done += rewritten
        total = max(total, done)
        if on_progress is not None:
            on_progress(done, total)

    if on_progress is not None:
        on_progress(0, total)
    for column in columns:
        await _rewrite_column(pool, keyring, column, primary, pattern, batch_size, advance)
    return done


async def _rewrite_column(
    pool: AsyncConnectionPool,
    keyring: Keyring,
    column: EncryptedColumn,
    primary: str,
    pattern: str,
    batch_size: int,
    advance: Callable[[int], None],
) -> None:
    first, following = _select_batch(column, after=False), _select_batch(column, after=True)
    for _ in range(MAX_PASSES):
        # One pass walks the primary key in order (keyset paging: each batch
        # starts where the last ended instead of rescanning rewritten rows).
        after: Any = None
        rewritten_in_pass = 0
        while True:
            async with pool.connection() as conn, conn.transaction():
                cur = conn.cursor(row_factory=dict_row)
                await cur.execute(
                    first if after is None else following,
                    {"pattern": pattern, "after": after, "limit": batch_size},
                )
                rows = await cur.fetchall()
                if not rows:
                    break
                updates = [_rewritten(keyring, column, primary, row) for row in rows]
                await cur.executemany(_update(column), updates)
            after = rows[-1][column.key]
            rewritten_in_pass += len(rows)
            advance(len(rows))
        async with pool.connection() as conn:
            if await _remaining(conn, column, pattern) == 0:
                return
        if rewritten_in_pass == 0:
            # Only rows a running transaction holds remain: give it time to end.
            await asyncio.sleep(LOCKED_RETRY_WAIT_S)
    # Still rows left (long-held locks, or a process writing under an old
    # primary): stop here; ``key_usage`` shows them and a new run picks them up.


def _rewritten(
    keyring: Keyring, column: EncryptedColumn, primary: str, row: dict[str, Any]
) -> dict[str, Any]:
    token: str = row[column.column]
    aad = column.aad(row)
    try:
        plain = keyring.decrypt(token, aad)
    except KeyringError as exc:
        raise ReencryptError(
            f"{column.table}.{column.column} of row {row[column.key]} does not decrypt: {exc}"
        ) from exc
    fresh = keyring.encrypt(plain, aad)
    if Keyring.key_id_of(fresh) != primary:
        # The keyring reloaded a newer primary mid-run: rows would never match
        # the filter again and the walk would not end. Stop; rerun rotates.
        raise ReencryptError(f"the primary key changed from {primary} during re-encryption")
    return {"key": row[column.key], "token": fresh, "old": token}


def _select_batch(column: EncryptedColumn, *, after: bool) -> sql.Composed:
    names = dict.fromkeys([column.key, column.column, *column.aad_columns])
    return sql.SQL(
        "SELECT {fields} FROM {table}"
        " WHERE {col} NOT LIKE %(pattern)s{after}"  # NULLs drop out too
        " ORDER BY {key} LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
    ).format(
        fields=sql.SQL(", ").join(sql.Identifier(name) for name in names),
        table=sql.Identifier(column.table),
        col=sql.Identifier(column.column),
        key=sql.Identifier(column.key),
        after=sql.SQL(" AND {key} > %(after)s").format(key=sql.Identifier(column.key))
        if after
        else sql.SQL(""),
    )


def _update(column: EncryptedColumn) -> sql.Composed:
    # "AND col = old" is belt and braces: the row is locked, so it always matches.
    return sql.SQL(
        "UPDATE {table} SET {col} = %(token)s WHERE {key} = %(key)s AND {col} = %(old)s"
    ).format(
        table=sql.Identifier(column.table),
        col=sql.Identifier(column.column),
        key=sql.Identifier(column.key),
    )


async def _remaining(conn: AsyncConnection[Any], column: EncryptedColumn, pattern: str) -> int:
    query = sql.SQL("SELECT count(*) FROM {table} WHERE {col} NOT LIKE %(pattern)s").format(
        table=sql.Identifier(column.table), col=sql.Identifier(column.column)
    )
    cur = await conn.execute(query, {"pattern": pattern})
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def _present(conn: AsyncConnection[Any]) -> list[EncryptedColumn]:
    """The registered columns whose table exists (a database not migrated that far has fewer)."""
    cur = await conn.execute(
        "SELECT t FROM unnest(%s::text[]) AS t WHERE to_regclass(t) IS NOT NULL",
        ([column.table for column in ENCRYPTED_COLUMNS],),
    )
    present = {name for (name,) in await cur.fetchall()}
    return [column for column in ENCRYPTED_COLUMNS if column.table in present]
