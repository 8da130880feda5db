from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def secret_key_is_not_the_development_key(app_configs, **kwargs):
    from config.settings import DEVELOPMENT_SECRET_KEY  # noqa: PLC0415

    if settings.SECRET_KEY == DEVELOPMENT_SECRET_KEY:
        return [
            Error(
                "SECRET_KEY is the development key.",
                hint="Set the SECRET_KEY environment variable to a long random value.",
                id="guidance.E001",
            )
        ]
    return []
