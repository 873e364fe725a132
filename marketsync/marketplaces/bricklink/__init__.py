"""BrickLink Store API: OAuth 1.0a-signed client, mapping, and the orders and inventory entities."""
