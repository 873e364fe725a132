from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "marketsync.sync"
    label = "sync"
    verbose_name = "Sync engine"
