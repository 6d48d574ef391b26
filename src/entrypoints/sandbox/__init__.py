"""Sandbox gateways: simulated PSPs that our adapters call over real HTTP."""
