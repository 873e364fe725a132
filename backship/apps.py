from django.apps import AppConfig


class BackshipConfig(AppConfig):
    name = "backship"
