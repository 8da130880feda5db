from django.apps import AppConfig


class GuidanceConfig(AppConfig):
    name = "guidance"
    verbose_name = "Guidance"

    def ready(self):
        from . import checks, history, page_cache  # noqa: F401 - registers checks and receivers

        history.cache_history_managers(self.get_models())
