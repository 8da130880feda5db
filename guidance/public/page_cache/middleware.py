"""PageCacheMiddleware: serve the public pages from the cache every server process shares.

It sits right after SecurityMiddleware and WhiteNoise: a hit skips the session, CSRF and
sign-in middleware and the view, none of which a public page depends on. A miss goes through
all of them, and the response is kept as they leave it, with the content security policy and
framing headers they added, so a hit answers with the same headers. A hit costs one round trip
to the cache (two for a page that varies on request headers) and no query.

Every public page is marked for a shared cache in front (Cache-Control) with its surrogate
keys (the xkey header: the names of the tokens it depends on), which purge.pages_purged names
when a change commits.
"""

import time
from typing import NamedTuple

from django.conf import settings
from django.http import HttpResponse, HttpResponsePermanentRedirect, HttpResponseRedirect
from django.utils.cache import get_conditional_response, patch_cache_control, set_response_etag
from django.utils.http import http_date

from . import keys, tokens

REDIRECTS = {301: HttpResponsePermanentRedirect, 302: HttpResponseRedirect}
CACHED_STATUSES = {200, *REDIRECTS}
PAGE_TIMEOUT = 24 * 60 * 60
SURROGATE_KEY_HEADER = "xkey"


class Page(NamedTuple):
    status: int
    headers: dict
    content: bytes
    last_modified: int | None


class Varies(NamedTuple):
    """Kept at a page's key when the page varies on request headers: its variants are kept
    under keys.variant_key."""

    headers: tuple


class PageCacheMiddleware:
    """Serve the public pages (views marked with cached_page) from the cache."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        found = keys.page_key(request) if getattr(settings, "GUIDANCE_PAGE_CACHE", True) else None
        if found is None:
            return self.get_response(request)
        key, token_names = found
        versions, page = tokens.read(token_names, key)
        if isinstance(page, Varies):
            page = tokens.read(token_names, keys.variant_key(key, page.headers, request))[1]
        if page is not None:
            return served(request, page)

        response = self.get_response(request)
        if not cacheable(response):
            return response
        patch_cache_control(response, public=True, max_age=0, s_maxage=PAGE_TIMEOUT)
        response[SURROGATE_KEY_HEADER] = " ".join(token_names)
        page = stored(response)
        if versions is not None:
            if headers := keys.vary_headers(response):
                tokens.keep(key, versions, Varies(headers), PAGE_TIMEOUT)
                key = keys.variant_key(key, headers, request)
            tokens.keep(key, versions, page, PAGE_TIMEOUT)
        return served(request, page)


def cacheable(response):
    """Only what is the same for every reader is kept: no cookie set or varied on, nothing
    marked private."""
    cache_control = response.get("Cache-Control", "").lower()
    return (
        response.status_code in CACHED_STATUSES
        and not response.streaming
        and not response.cookies
        and "cookie" not in keys.vary_headers(response)
        and "private" not in cache_control
        and "no-store" not in cache_control
    )


def stored(response):
    """What is kept of a response: status, headers, content and the time it was made."""
    last_modified = int(time.time())
    if response.status_code == 200:
        set_response_etag(response)
        response.headers.setdefault("Last-Modified", http_date(last_modified))
    return Page(response.status_code, dict(response.headers), response.content, last_modified)


def served(request, page):
    """The response for a kept page, answering a conditional request with 304 when it can."""
    status, headers, content, last_modified = page
    if status in REDIRECTS:
        return REDIRECTS[status](headers["Location"], headers=headers)
    response = HttpResponse(content, status=status, headers=headers)
    conditional = "HTTP_IF_NONE_MATCH" in request.META or ("HTTP_IF_MODIFIED_SINCE" in request.META)
    if status != 200 or not conditional:
        return response
    return get_conditional_response(
        request, etag=headers["ETag"], last_modified=last_modified, response=response
    )
