"""Admin for brick inventory, lots, reservations and the ledger."""
