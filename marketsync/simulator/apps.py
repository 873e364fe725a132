from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    name = "marketsync.simulator"
    label = "simulator"
    verbose_name = "Marketplace simulator"
