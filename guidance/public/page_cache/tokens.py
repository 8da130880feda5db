"""The version tokens of the cached pages, kept in the cache every server process shares.

An entry is kept with the versions of the tokens it was made under, and is served only while
they are unchanged. A change deletes the tokens of what it altered; the next read makes them
afresh, so every entry kept under the old versions is dead in every process at once.

When the cache cannot be reached (Redis stopped), reads answer nothing and writes are skipped,
so pages are served uncached rather than failing.
"""

import logging
import uuid

import redis
from django.core.cache import cache
from django.db import DatabaseError
from django_redis.exceptions import ConnectionInterrupted

SITE_TOKEN = "pages:site"
LISTINGS_TOKEN = "pages:listings"
# The history area's pages: every change adds to what they show.
HISTORY_TOKEN = "pages:history"
# What a failing cache raises: Redis (django-redis) or the database (DatabaseCache).
CACHE_ERRORS = (ConnectionInterrupted, redis.RedisError, DatabaseError)

logger = logging.getLogger(__name__)


def document_token(reference):
    return f"pages:document:{reference}"


def read(names, key):
    """(the versions of the tokens named, the value kept at key under those versions or None),
    in one round trip when the tokens exist; (None, None) when the cache cannot be reached.
    """
    try:
        found = cache.get_many([*names, key])
        for name in names:
            if name not in found:
                found[name] = _made(name)
    except CACHE_ERRORS:
        logger.warning("The page cache cannot be reached: serving uncached", exc_info=True)
        return None, None
    versions = tuple(found[name] for name in names)
    entry = found.get(key)
    if entry is not None and entry[0] == versions:
        return versions, entry[1]
    return versions, None


def versions(names):
    """The versions of the tokens named, or None when the cache cannot be reached."""
    return read(names, key="pages:none")[0]


def _made(name):
    version = uuid.uuid4().hex
    if cache.add(name, version, timeout=None):
        return version
    # Another process made it in between; if it was deleted again since, ours is never shared,
    # so nothing kept under it is ever served.
    return cache.get(name) or version


def keep(key, versions, value, timeout):
    """Keep a value at key, to be served while the tokens keep these versions."""
    try:
        cache.set(key, (versions, value), timeout=timeout)
    except CACHE_ERRORS:
        logger.warning("The page cache cannot be reached: a page was not kept", exc_info=True)


def move(names):
    """Delete the tokens named, so that nothing kept under them is served again; False when
    the cache cannot be reached.
    """
    try:
        cache.delete_many(names)
    except CACHE_ERRORS:
        logger.error("The page cache cannot be reached: pages were not purged", exc_info=True)
        return False
    return True
