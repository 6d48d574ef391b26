"""The database side of the invariant checker (``application.verification``).

``invariants`` runs the rules of ``ledger_rules`` and ``record_rules`` in one
snapshot; ``snapshot`` reads our transactions for the cross-checks.
"""
