"""The gateways' side of the invariant checker: their own ledgers."""
