"""Verification: the money invariants that must hold after any traffic, faults included.

``CheckInvariants`` (``check_invariants``) composes three sources, each
behind a Protocol in ``ports``:

* the database (``InvariantDatabase``): the ledger, the outbox and the
  attempts checked in SQL, plus a snapshot of our transactions for the
  cross-checks below;
* the gateways' own ledgers (``GatewayLedgers``, optional): every payment a
  gateway received, keyed by the idempotency reference we sent;
* the event stream (``EventStream``, optional): every message on
  ``payments.transactions.v1`` from the beginning.

The cross-checks (our records against the gateways in ``compare_gateways``,
against the stream in ``compare_events``) are pure functions, so they are
unit-tested with plain data; the adapters only read. ``catalog`` names every
invariant, ``report`` holds what a run found, ``records`` what the sources
give.

The checker is meant for a system at rest; ``check_invariants`` says why.
"""
