import listings.admin_backmarket  # noqa: F401
import listings.admin_inventory  # noqa: F401
