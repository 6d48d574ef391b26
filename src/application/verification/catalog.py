"""Every invariant the checker knows, by source, with the sentence a report prints."""

from __future__ import annotations

from collections.abc import Mapping

DATABASE_INVARIANTS: Mapping[str, str] = {
    "ledger.journal_balanced": "every ledger journal sums to zero",
    "ledger.journal_shape": "each journal moves its transaction's amount between the two "
    "accounts its kind names (the user's, in the transaction's currency)",
    "ledger.non_negative": "no user account (available or held) is below zero",
    "ledger.balance_matches_postings": "each user account's balance is the sum of its postings",
    "ledger.money_conserved": "per currency, user balances plus the external account's "
    "postings sum to zero",
    "ledger.held_matches_open_withdrawals": "held balance per (user, currency) is the sum of "
    "withdrawals and refunds still pending or processing",
    "ledger.deposit_journals": "a completed deposit has exactly one deposit.credit journal, "
    "any other deposit none",
    "ledger.withdrawal_journals": "a withdrawal has hold+payout when completed, hold+release "
    "when failed, only hold while open",
    "ledger.refund_journals": "a refund has hold+payout when completed, hold+release when "
    "failed, only hold while open",
    "legs.within_parent": "a closed-loop leg belongs to a withdrawal of the same user and "
    "currency; its legs not failed sum to at most its amount, exactly when it completed (all "
    "of them completed), and a failed one has no completed leg",
    "refunds.within_deposit": "a refund belongs to a completed deposit of the same user and "
    "currency, and the deposit's refunds not failed sum to at most its amount",
    "outbox.lifecycle_events": "a transaction at version N has lifecycle events 1..N in the "
    "outbox, each exactly once, created first and its current state last",
    "attempts.unique_reference": "no two gateway attempts share an idempotency reference",
    "attempts.well_formed": "attempts are numbered 1..n and referenced {transaction_id}:{n}",
    "transactions.gateway_attempt": "a processing or completed transaction has an attempt at "
    "its gateway",
}
GATEWAY_INVARIANTS: Mapping[str, str] = {
    "gateway.ledger_readable": "every gateway's ledger can be read",
    "gateway.reference_charged_once": "no idempotency reference was taken twice (at one "
    "gateway or across gateways)",
    "gateway.payment_known": "every gateway payment maps to exactly one of our attempts, at "
    "that gateway, for the transaction it names",
    "gateway.payment_matches": "a gateway payment has our transaction's type, amount and currency",
    "gateway.not_sent_absent": "an attempt we recorded as not sent is unknown to its gateway",
    "gateway.outcome_matches": "a terminal transaction matches its gateway: completed at our "
    "winning attempt <=> the gateway completed that reference",
    "gateway.no_unreported_charge": "money a gateway took for an attempt we abandoned is "
    "flagged for a refund",
}
EVENT_INVARIANTS: Mapping[str, str] = {
    "kafka.readable": "the transactions topic can be read to its end",
    "kafka.well_formed": "every message is a lifecycle envelope keyed by its transaction id",
    "kafka.known_transaction": "every event names a transaction we have, at a version it "
    "reached, with one event id per version",
    "kafka.complete": "every lifecycle event the outbox marked published is on the topic",
    "kafka.in_order": "per partition, a transaction's versions first appear in order "
    "(redelivered duplicates allowed)",
}
INVARIANTS: Mapping[str, str] = {**DATABASE_INVARIANTS, **GATEWAY_INVARIANTS, **EVENT_INVARIANTS}

# Reconciliation issue kinds that mean "a human was told to refund this charge".
REFUND_FLAGS = frozenset({"abandoned_attempt_completed", "gateway_completed_we_failed"})
