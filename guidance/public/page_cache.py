"""The rendered-page cache of the public site, and its exact purge after every change.

A cached page is stored under a key made from version tokens: one for the whole site, one
for the document the page belongs to (or for the listings: search, feed, sitemap). A change
deletes the tokens of the documents it wrote and of the documents related to them, so their
next request renders afresh; every other page stays cached. PageCacheMiddleware answers a hit
before the session, CSRF and sign-in middleware run; it costs no SQL query, and no cache
round trip either when this process served the page recently (see Tokens).

GUIDANCE_PAGE_CACHE = False in the settings turns the cache off (to measure rendering).
"""

import collections
import datetime
import functools
import hashlib
import json
import logging
import os
import threading
import time
import uuid

import redis
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.dispatch import receiver
from django.http import HttpResponse, HttpResponsePermanentRedirect, HttpResponseRedirect
from django.urls import Resolver404, get_urlconf, resolve
from django.utils import timezone
from django.utils.cache import get_conditional_response, set_response_etag
from django.utils.http import http_date

from ..history import change_committed
from ..models import (
    Guidance,
    MalformedReference,
    Organisation,
    Programme,
    Relation,
    ResponsibilityStatement,
    normalise_reference,
)

SITE_TOKEN = "pages:site"
LISTINGS_TOKEN = "pages:listings"
# The history area's pages (audit_views): every change adds to what they show.
HISTORY_TOKEN = "pages:history"
REDIRECTS = {301: HttpResponsePermanentRedirect, 302: HttpResponseRedirect}
CACHED_STATUSES = {200, *REDIRECTS}
PAGE_TIMEOUT = 24 * 60 * 60
PURGE_CHANNEL = "guidance:page-purges"

logger = logging.getLogger(__name__)


def document_token(reference):
    return f"pages:document:{reference}"


class Tokens:
    """The version tokens, read on every request; a missing token is made afresh.

    With Redis as the cache, each process keeps a copy of the tokens it has read while it is
    subscribed to the purge channel, so that a page hit needs no round trip at all; a purge
    anywhere drops the purged tokens from every copy. Without the subscription (starting up,
    connection lost) every read goes to the cache.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.pid = None
        self._reset()

    def _reset(self):
        self.copy = {}
        self.generation = 0
        self.subscribed = False
        self.redis_url = None
        self.publisher = None

    def get_many(self, names):
        return self.read(names)[0]

    def read(self, names):
        """(versions, made): the versions of the tokens named, and whether any of them was made
        just now, in which case nothing can be cached under it yet.
        """
        self._start_listening_once()
        with self.lock:
            found = {name: self.copy[name] for name in names if name in self.copy}
            generation = self.generation
        if len(found) == len(names):
            return found, False
        fetched, made = get_or_add_many(
            {name: uuid.uuid4().hex for name in names if name not in found}
        )
        with self.lock:
            # A purge that arrived meanwhile may concern what was just read: keep no copy.
            if self.subscribed and self.generation == generation:
                self.copy.update(fetched)
        return found | fetched, bool(made)

    def purge(self, names):
        self._start_listening_once()
        cache.delete_many(names)
        self.forget(names)
        if self.redis_url:
            self.publisher.publish(PURGE_CHANNEL, json.dumps(names))

    def forget(self, names=None):
        with self.lock:
            self.generation += 1
            for name in names if names is not None else list(self.copy):
                self.copy.pop(name, None)

    def _start_listening_once(self):
        if self.pid == os.getpid():
            return
        with self.lock:
            if self.pid == os.getpid():
                return
            # A forked worker starts with no copy and its own listener.
            self.pid = os.getpid()
            self._reset()
            backend = caches["default"]
            if isinstance(backend, RedisCache) and isinstance(backend._servers[0], str):
                self.redis_url = backend._servers[0]
                self.publisher = redis.Redis.from_url(self.redis_url)
                threading.Thread(target=self._listen, name="page-purges", daemon=True).start()

    def _listen(self):
        client = redis.Redis.from_url(self.redis_url)
        while True:
            try:
                subscription = client.pubsub()
                subscription.subscribe(PURGE_CHANNEL)
                for message in subscription.listen():
                    if message["type"] == "subscribe":
                        with self.lock:
                            self.subscribed = True
                    elif message["type"] == "message":
                        self.forget(json.loads(message["data"]))
            except redis.RedisError:
                logger.warning("Lost the page purge subscription; reconnecting", exc_info=True)
            with self.lock:
                self.subscribed = False
            self.forget()
            time.sleep(1)


def get_or_add_many(data):
    """(the values cached under the keys, the keys added): keys not cached are added with the
    values given. The Redis backend (config.redis_cache) does it in one round trip.
    """
    if hasattr(cache, "get_or_add_many"):
        return cache.get_or_add_many(data)
    stored = cache.get_many(list(data))
    added = {key for key in data if key not in stored and cache.add(key, data[key], timeout=None)}
    # A key neither found nor added was added by another process in between.
    lost = [key for key in data if key not in stored and key not in added]
    return stored | {key: data[key] for key in added} | cache.get_many(lost), added


tokens = Tokens()


def forget_all_pages():
    """Empty the cache and this process's copies (for tests: the database starts afresh)."""
    cache.clear()
    tokens.forget()
    recent_pages.clear()
    responsibilities.clear()


# (site token version, programme id, date) -> the statement in force; a change to a programme
# or a statement moves the site token, so an entry is never read once it is out of date.
responsibilities = {}


def responsibility_statement(guidance):
    """The programme's 'Your responsibility' wording in force today, read once per site version."""
    today = timezone.localdate()
    if not getattr(settings, "GUIDANCE_PAGE_CACHE", True):
        return guidance.responsibility_statement(on=today)
    key = (tokens.get_many([SITE_TOKEN])[SITE_TOKEN], guidance.programme_id, today)
    try:
        return responsibilities[key]
    except KeyError:
        pass
    if len(responsibilities) > 1000:
        responsibilities.clear()
    statement = responsibilities[key] = guidance.responsibility_statement(on=today)
    return statement


def _page_key(request, token_names):
    """(key, whether the key is new): a page key made of a version made just now has no page."""
    versions, made = tokens.read(token_names)
    # The date is part of the key: the 'Your responsibility' wording in force can change at
    # midnight without any edit. Django sets the process time zone to TIME_ZONE.
    parts = [datetime.date.today().isoformat(), *(versions[name] for name in token_names)]
    # The feed and the sitemap carry absolute addresses, made from the scheme and host asked for.
    parts += [request.scheme, request.get_host(), request.get_full_path()]
    return f"page:v3:{hashlib.sha256(':'.join(parts).encode()).hexdigest()}", made


def _token_names(kwargs):
    try:
        reference = normalise_reference(kwargs["reference"])
    except KeyError:
        return (SITE_TOKEN, LISTINGS_TOKEN)
    except MalformedReference:
        return None
    return (SITE_TOKEN, document_token(reference))


class RecentPages:
    """The pages this process served last, by versioned key, so that a hit skips the cache.

    The version tokens are still checked on every request, so a purge is seen at once.
    """

    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self.bytes = 0
        self.pages = collections.OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            page = self.pages.get(key)
            if page is not None:
                self.pages.move_to_end(key)
            return page

    def clear(self):
        with self.lock:
            self.pages.clear()
            self.bytes = 0

    def put(self, key, page):
        with self.lock:
            if key in self.pages:
                self.pages.move_to_end(key)
                return
            self.pages[key] = page
            self.bytes += len(page[2])
            while self.bytes > self.max_bytes and len(self.pages) > 1:
                _, oldest = self.pages.popitem(last=False)
                self.bytes -= len(oldest[2])


recent_pages = RecentPages(max_bytes=32 * 1024 * 1024)


def _stored(response):
    """What is kept of a response: status, headers, content and the time it was made."""
    last_modified = int(time.time())
    if response.status_code == 200:
        set_response_etag(response)
        response.headers.setdefault("Last-Modified", http_date(last_modified))
    return (response.status_code, dict(response.headers), response.content, last_modified)


def cached_page(view):
    """Mark a public view whose pages PageCacheMiddleware keeps and serves."""

    @functools.wraps(view)
    def public_page(request, *args, **kwargs):
        return view(request, *args, **kwargs)

    public_page.cached_page = True
    return public_page


def _cacheable(response):
    """Only what is the same for every reader is kept: no cookie set, none varied on."""
    return (
        response.status_code in CACHED_STATUSES
        and not response.streaming
        and not response.cookies
        and "cookie" not in response.get("Vary", "").lower()
    )


def _served(request, page):
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


class PageCacheMiddleware:
    """Serve the public pages (views marked with cached_page) from the cache.

    It sits right after SecurityMiddleware and WhiteNoise: a hit skips the session, CSRF and
    sign-in middleware and the view, none of which a public page depends on. A miss goes
    through all of them, and the response is kept as they leave it, with the content security
    policy and framing headers they added, so a hit answers with the same headers.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key, new = self.page_key(request)
        if key is None:
            return self.get_response(request)
        page = None if new else (recent_pages.get(key) or cache.get(key))
        if page is None:
            response = self.get_response(request)
            if not _cacheable(response):
                return response
            page = _stored(response)
            cache.set(key, page, timeout=PAGE_TIMEOUT)
        recent_pages.put(key, page)
        return _served(request, page)

    @staticmethod
    def page_key(request):
        """(key, whether it is new) of the page asked for; key None when it is not a cached
        page.
        """
        if request.method not in ("GET", "HEAD") or not getattr(
            settings, "GUIDANCE_PAGE_CACHE", True
        ):
            return None, False
        token_names = _page_tokens(get_urlconf() or settings.ROOT_URLCONF, request.path_info)
        if token_names is None:
            return None, False
        return _page_key(request, token_names)


@functools.lru_cache(maxsize=20_000)
def _page_tokens(urlconf, path):
    """The token names of the cached page at a path, or None: each path is resolved once."""
    try:
        match = resolve(path, urlconf)
    except Resolver404:
        return None
    if not getattr(match.func, "cached_page", False):
        return None
    return _token_names(match.kwargs)


def shared_tables():
    """History tables whose rows show on the pages of many documents."""
    return {
        model.history.model._meta.db_table
        for model in (Programme, ResponsibilityStatement, Organisation)
    }


def references_to_purge(guidance_ids):
    """Every reference, past or present, of the documents and of the documents related to them."""
    related = Relation.objects.filter(source_id__in=guidance_ids) | Relation.objects.filter(
        target_id__in=guidance_ids
    )
    ids = set(guidance_ids)
    for source_id, target_id in related.values_list("source_id", "target_id"):
        ids.update((source_id, target_id))
    return set(Guidance.history.filter(id__in=ids).values_list("reference", flat=True)) | set(
        Guidance.objects.filter(id__in=ids).values_list("reference", flat=True)
    )


@receiver(change_committed)
def purge_changed_pages(sender, change_set, **kwargs):
    names = [LISTINGS_TOKEN, HISTORY_TOKEN]
    if shared_tables() & set(change_set.row_hashes):
        names.append(SITE_TOKEN)
    ids = change_set.guidance_ids
    if ids:
        names.extend(document_token(reference) for reference in references_to_purge(ids))
    tokens.purge(names)
