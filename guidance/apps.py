from django.apps import AppConfig


class GuidanceConfig(AppConfig):
    name = "guidance"
    verbose_name = "Guidance"

    def ready(self):
        from . import checks, history  # noqa: F401 - registers checks and history receivers
