from django.apps import AppConfig


class GuidanceConfig(AppConfig):
    name = "guidance"
    verbose_name = "Guidance"

    def ready(self):
        # The admin lives with the other editorial code, where autodiscovery does not look.
        from . import checks, history, witness  # noqa: F401 - registers checks and receivers
        from .editorial import admin  # noqa: F401 - registers the models with the admin site
        from .public import front_cache, page_cache  # noqa: F401 - purge pages when a change commits

        history.cache_history_managers(self.get_models())
