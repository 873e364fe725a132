from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"

    def ready(self) -> None:
        import inventory.signals  # noqa: F401  (connects the receivers)
