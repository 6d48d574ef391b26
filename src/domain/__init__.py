"""Pure payment rules: money, transactions, routing. Standard library only."""
