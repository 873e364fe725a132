"""Brick Owl API: key-authenticated client, mapping, and the orders and inventory entities."""
