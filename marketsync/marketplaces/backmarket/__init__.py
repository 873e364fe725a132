"""Back Market adapter: ``client`` (HTTP), ``mapping`` (payload → records), ``entities`` (sync specs)."""
