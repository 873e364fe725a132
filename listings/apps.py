from django.apps import AppConfig


class ListingsConfig(AppConfig):
    name = "listings"

    def ready(self) -> None:
        import listings.inventory_signals  # noqa: F401  (connects the receivers)
