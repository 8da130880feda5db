"""Which pages are cached, under which key, and which tokens they depend on.

A view marked with cached_page is cached. Its key is made from the date (the 'Your
responsibility' wording in force can change at midnight without any edit) and the path with its
query, or the path alone for a view that reads no query (so that no one can make it render a PDF
again by adding ?x=1, ?x=2, ...); pages that carry absolute addresses (the feed, the sitemap,
the PDF and the print stylesheet) add the scheme and host asked for. A response that varies on
request headers is kept under a second key made with their values (see variant_key). The tokens
of a document's pages are the site's and the document's; those of the other pages, the site's
and the listings'.
"""

import datetime
import functools
import hashlib

from django.conf import settings
from django.urls import Resolver404, get_urlconf, resolve
from django.utils.http import split_header_value

from ...models import MalformedReference, normalise_reference
from .tokens import LISTINGS_TOKEN, SITE_TOKEN, document_token


def cached_page(view=None, *, per_host=False, reads_query=True):
    """Mark a public view whose pages PageCacheMiddleware keeps and serves; per_host for pages
    that carry absolute addresses; reads_query=False for a view whose page is the same whatever
    the query string."""
    if view is None:
        return functools.partial(cached_page, per_host=per_host, reads_query=reads_query)

    @functools.wraps(view)
    def public_page(request, *args, **kwargs):
        return view(request, *args, **kwargs)

    public_page.cached_page = "per host" if per_host else "per path"
    public_page.reads_query = reads_query
    return public_page


def page_key(request):
    """(key, token names) of the cached page asked for, or None when it is not one."""
    if request.method not in ("GET", "HEAD"):
        return None
    found = _page(get_urlconf() or settings.ROOT_URLCONF, request.path_info)
    if found is None:
        return None
    token_names, per_host, reads_query = found
    path = request.get_full_path() if reads_query else request.path
    parts = [datetime.date.today().isoformat(), path]
    if per_host:
        parts += [request.scheme, request.get_host()]
    return _hashed("page:v4", parts), token_names


def vary_headers(response):
    """The request headers a response varies on, lower-cased and sorted."""
    if not response.has_header("Vary"):
        return ()
    return tuple(sorted({name.lower() for name in split_header_value(response["Vary"])}))


def variant_key(key, headers, request):
    """The key of the variant of a page for the values of the headers it varies on."""
    values = [request.META.get("HTTP_" + name.upper().replace("-", "_"), "") for name in headers]
    return _hashed(key, [*headers, *values])


def _hashed(prefix, parts):
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return f"{prefix}:{digest}"


@functools.lru_cache(maxsize=20_000)
def _page(urlconf, path):
    """(token names, per host, reads the query) of the cached page at a path, or None: each
    path is resolved once."""
    try:
        match = resolve(path, urlconf)
    except Resolver404:
        return None
    kind = getattr(match.func, "cached_page", None)
    if kind is None:
        return None
    per_host, reads_query = kind == "per host", match.func.reads_query
    try:
        reference = normalise_reference(match.kwargs["reference"])
    except KeyError:
        return (SITE_TOKEN, LISTINGS_TOKEN), per_host, reads_query
    except MalformedReference:
        return None
    return (SITE_TOKEN, document_token(reference)), per_host, reads_query
