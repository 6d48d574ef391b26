"""Use cases and the ports they need. Frameworks and drivers stay outside."""
