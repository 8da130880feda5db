"""The Redis the tests that need one use: database 9 of the local server, skipped without it,
or a server of the test's own (RedisServer) that it may stop and start again."""

import shutil
import subprocess
import time
import uuid

import pytest
import redis

from bench.serve import free_port

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
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }


class RedisServer:
    """A redis-server on a free port, keeping nothing on disk, as a cache's Redis runs."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


def own_redis(request):
    """A RedisServer started for the test asking (a pytest request), stopped after it."""
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server (apt-get install redis-server)")
    server = RedisServer().start()
    request.addfinalizer(lambda: server.process.poll() is None and server.stop())
    return server
