"""Purge the front cache (Varnish with the xkey module) when a change commits.

Public pages carry their surrogate keys in an xkey header (see page_cache.middleware). When a
change commits, page_cache.purge sends pages_purged with the keys of the pages it altered; this
module asks each front cache in FRONT_CACHE_URLS to drop every page under those keys, with one
PURGE request carrying them in its xkey header (config/varnish/guidance.vcl answers it). The purge
is made before the request that saved the change returns, so the next reader through the front
cache gets the new page. A front cache that cannot be reached is asked again in the background.

When the background worker has rendered the altered pages again (page_cache.rerender), it purges
the same keys once more and then asks each front cache for the pages, as a reader would, so that
the first reader after a change is answered by the front cache instead of waiting for the
application. The second purge drops a page that a reader's request, already on its way to the
application when the change committed, may have put back as it was before the change.
"""

import datetime
import logging
import urllib.error
import urllib.request

from django.conf import settings
from django.dispatch import receiver
from django.tasks import task
from django.utils import timezone

from .page_cache import pages_purged
from .page_cache.rerender import pages_rendered

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 2
RETRY_AFTER = datetime.timedelta(seconds=5)


def purge(keys, urls=None):
    """Ask each front cache to drop the pages under these keys; return the ones that failed."""
    failed = []
    for url in urls if urls is not None else settings.FRONT_CACHE_URLS:
        request = urllib.request.Request(
            url.rstrip("/") + "/", method="PURGE", headers={"xkey": " ".join(keys)}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS):
                pass
        except (urllib.error.URLError, OSError) as error:
            logger.warning("Front cache %s did not purge %s: %s", url, keys, error)
            failed.append(url)
    return failed


@task
def retry_purge(keys, urls):
    if failed := purge(keys, urls):
        retry_purge.using(run_after=timezone.now() + RETRY_AFTER).enqueue(keys, failed)


@receiver(pages_purged)
def purge_front_cache(sender, keys, **kwargs):
    if failed := purge(keys):
        retry_purge.using(run_after=timezone.now() + RETRY_AFTER).enqueue(list(keys), failed)


def warm(paths, host, urls=None):
    """GET each path through each front cache, with the Host (and, on an HTTPS site, the
    forwarded scheme) its readers send, so that it keeps the page; return how many it answered."""
    headers = {"Host": settings.FRONT_CACHE_HOST or host}
    if settings.SECURE_PROXY_SSL_HEADER:
        name, value = settings.SECURE_PROXY_SSL_HEADER
        headers[name.removeprefix("HTTP_").replace("_", "-").title()] = value
    kept = 0
    for url in urls if urls is not None else settings.FRONT_CACHE_URLS:
        for path in paths:
            request = urllib.request.Request(url.rstrip("/") + path, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                    response.read()
                    kept += 1
            except (urllib.error.URLError, OSError) as error:
                # The next reader fetches it instead: nothing is stale, only slower.
                logger.warning("Front cache %s did not take %s: %s", url, path, error)
    return kept


@receiver(pages_rendered)
def warm_front_cache(sender, paths, host, keys=(), **kwargs):
    if keys:
        purge(keys)
    warm(paths, host)
