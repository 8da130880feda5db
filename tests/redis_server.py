"""The Redis the tests that need one use: database 9 of the local server, skipped without it."""

import uuid

import pytest
import redis

REDIS_FOR_TESTS = "redis://127.0.0.1:6379/9"


def redis_is_running():
    try:
        return redis.Redis.from_url(REDIS_FOR_TESTS, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


needs_redis = pytest.mark.skipif(not redis_is_running(), reason="needs Redis at 127.0.0.1:6379")


def redis_cache(location=REDIS_FOR_TESTS):
    """CACHES for the product's Redis backend, under a key prefix of the test's own."""
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }
