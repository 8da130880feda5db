import redis
from django.conf import settings
from django.core import checks
from django.core.checks import Tags, register


@register(Tags.security, deploy=True)
def secret_key_is_not_the_development_key(app_configs, **kwargs):
    from config.settings import DEVELOPMENT_SECRET_KEY  # noqa: PLC0415

    if settings.SECRET_KEY == DEVELOPMENT_SECRET_KEY:
        return [
            checks.Error(
                "SECRET_KEY is the development key.",
                hint="Set the SECRET_KEY environment variable to a long random value.",
                id="guidance.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def history_is_signed_with_a_production_key(app_configs, **kwargs):
    from pathlib import Path  # noqa: PLC0415

    from . import ledger  # noqa: PLC0415

    if not settings.HISTORY_SIGNING_KEY:
        path = settings.HISTORY_SIGNING_KEY_FILE
        development = Path(settings.DEVELOPMENT_SIGNING_KEY_FILE).resolve()
        if not path or Path(path).resolve() == development:
            return [
                checks.Error(
                    "History would be signed with the development key, or with none.",
                    hint="Set HISTORY_SIGNING_KEY_FILE to a private key made with "
                    "`python manage.py make_signing_key PATH`, kept outside the database.",
                    id="guidance.E003",
                )
            ]
    try:
        ledger.signing_key()
    except ledger.NoSigningKey as problem:
        return [checks.Error(str(problem), id="guidance.E004")]
    return []


@register(Tags.security, deploy=True)
def history_heads_are_witnessed(app_configs, **kwargs):
    if not settings.HISTORY_WITNESS_FILE:
        return [
            checks.Warning(
                "No witness keeps the history's heads outside the database.",
                hint="Set HISTORY_WITNESS_FILE to an append-only file another account owns.",
                id="guidance.W005",
            )
        ]
    return []


OLDEST_REDIS = "7.0"


@register(Tags.caches, deploy=True)
def redis_can_read_or_add_page_tokens(app_configs, **kwargs):
    """The page cache is made and tested for Redis 7.0 or later."""
    cache = settings.CACHES["default"]
    if cache["BACKEND"] != "django_redis.cache.RedisCache":
        return []
    location = cache["LOCATION"]
    location = location if isinstance(location, str) else location[0]
    try:
        client = redis.Redis.from_url(location, socket_connect_timeout=1)
        version = client.info("server")["redis_version"]
    except redis.RedisError as error:
        return [
            checks.Warning(
                f"Redis at {location} did not answer ({error}), so its version was not checked.",
                hint=f"The page cache needs Redis {OLDEST_REDIS} or later.",
                id="guidance.W002",
            )
        ]
    if redis_version_is_too_old(version):
        return [
            checks.Error(
                f"Redis at {location} is version {version}; the page cache needs "
                f"{OLDEST_REDIS} or later.",
                hint="Upgrade Redis, or leave REDIS_URL unset to cache pages in the database.",
                id="guidance.E002",
            )
        ]
    return []


def redis_version_is_too_old(version):
    return _major_minor(version) < _major_minor(OLDEST_REDIS)


def _major_minor(version):
    major, minor = version.split(".")[:2]
    return int(major), int(minor)
