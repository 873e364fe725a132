from django.apps import AppConfig


class BackshipConfig(AppConfig):
    name = "backship"
    verbose_name = "BackShip"

    def ready(self) -> None:
        from backship import signals  # noqa: F401
