import listings.admin_backmarket  # noqa: F401
