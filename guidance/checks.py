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
