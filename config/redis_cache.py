"""Django's Redis cache backend, keeping one client per connection pool, with get_or_add_many.

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

    def get_or_add_many(self, data):
        # SET NX GET (Redis 7.0 or later) adds a missing key and answers what was there: None
        # when it added the key. One command per key, all in one round trip; a lone key, the
        # usual case, goes without a pipeline, which costs about 10 µs more.
        client = self.get_client(write=True)
        if len(data) == 1:
            [(key, value)] = data.items()
            replies = [client.set(key, self._serializer.dumps(value), nx=True, get=True)]
        else:
            pipeline = client.pipeline(transaction=False)
            for key, value in data.items():
                pipeline.set(key, self._serializer.dumps(value), nx=True, get=True)
            replies = pipeline.execute()
        added, stored = set(), {}
        for (key, value), reply in zip(data.items(), replies, strict=True):
            if reply is None:
                added.add(key)
                stored[key] = value
            else:
                stored[key] = self._serializer.loads(reply)
        return stored, added


class RedisCache(redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient

    def get_or_add_many(self, data, version=None):
        """(the values stored under the keys, the keys added): a key not in the cache is added
        with the value given, never timing out. One round trip, and atomic: of two processes
        adding the same key, one adds it and both read what it added.
        """
        keys = {self.make_and_validate_key(key, version=version): key for key in data}
        stored, added = self._cache.get_or_add_many({made: data[key] for made, key in keys.items()})
        return {keys[made]: value for made, value in stored.items()}, {keys[made] for made in added}
