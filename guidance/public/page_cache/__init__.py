"""The rendered-page cache of the public site, and its exact purge after every change.

Pages are kept in Django's default cache, which every server process shares: Redis when
REDIS_URL is set, else the database's cache table. Its parts:

- tokens: the version tokens pages are kept under, and the cache's failures (served uncached);
- keys: which views are cached (cached_page), their keys, and the headers they vary on;
- middleware: PageCacheMiddleware, which serves and keeps pages, with the headers a front cache
  needs (Cache-Control, xkey);
- purge: the purge when a change commits, and pages_purged, the hook for a front cache;
- rerender: the background task that renders the altered pages again;
- responsibility: the 'Your responsibility' wording each overview shows, read once per version.

GUIDANCE_PAGE_CACHE = False in the settings turns the cache off (to measure rendering).
"""

from django.core.cache import cache

from . import responsibility
from .keys import cached_page
from .middleware import PAGE_TIMEOUT, PageCacheMiddleware
from .purge import pages_purged, purge
from .responsibility import responsibility_statement
from .tokens import HISTORY_TOKEN, keep, read

__all__ = [
    "HISTORY_TOKEN",
    "PAGE_TIMEOUT",
    "PageCacheMiddleware",
    "cached_page",
    "forget_all_pages",
    "keep",
    "pages_purged",
    "purge",
    "read",
    "responsibility_statement",
]


def forget_all_pages():
    """Empty the cache and this process's wordings (for tests: the database starts afresh)."""
    cache.clear()
    responsibility.statements.clear()
