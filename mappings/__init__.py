"""Connectors: one module per external platform, each producing AIoD assets for ``kg``."""
