"""Refurbed merchant API adapter: client, mapping, entity specs."""
