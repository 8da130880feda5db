"""Django's Redis cache backend, keeping one client per connection pool.

Django's backend builds a new redis.Redis client for every operation; building one sets up
its table of response callbacks, which costs more than the round trip to Redis itself. The
clients are thread-safe and share the pool's connections, so one per pool is enough.
"""

from django.core.cache.backends import redis


class RedisCacheClient(redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        try:
            return self._clients[index]
        except KeyError:
            client = self._clients[index] = super().get_client(key, write=write)
            return client


class RedisCache(redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
