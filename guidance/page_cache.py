"""The rendered-page cache of the public site, and its exact purge after every change.

A cached page is stored under a key made from version tokens: one for the whole site, one
for the document the page belongs to (or for the listings: search, feed, sitemap). A change
deletes the tokens of the documents it wrote and of the documents related to them, so their
next request renders afresh; every other page stays cached. A hit costs two cache reads and
no SQL query.
"""

import datetime
import functools
import hashlib
import uuid

from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpResponse
from django.template.response import SimpleTemplateResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response, set_response_etag
from django.utils.http import http_date, parse_http_date_safe

from .history import change_committed, guidance_ids_touched_by
from .models import (
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
CACHED_STATUSES = {200, 301, 302}


def document_token(reference):
    return f"pages:document:{reference}"


def _seconds_until_midnight():
    # 'Your responsibility' wording in force can change at midnight without any edit.
    now = timezone.localtime()
    midnight = datetime.datetime.combine(
        now.date() + datetime.timedelta(days=1), datetime.time(), tzinfo=now.tzinfo
    )
    return max(60, int((midnight - now).total_seconds()))


def _page_key(request, token_names):
    tokens = cache.get_many(token_names)
    missing = {name: uuid.uuid4().hex for name in token_names if name not in tokens}
    if missing:
        cache.set_many(missing, timeout=None)
        tokens.update(missing)
    versions = ":".join(tokens[name] for name in token_names)
    path = hashlib.sha256(request.get_full_path().encode()).hexdigest()
    return f"page:{hashlib.sha256(versions.encode()).hexdigest()}:{path}"


def _token_names(kwargs):
    try:
        reference = normalise_reference(kwargs["reference"])
    except KeyError:
        return [SITE_TOKEN, LISTINGS_TOKEN]
    except MalformedReference:
        return None
    return [SITE_TOKEN, document_token(reference)]


def cached_page(view):
    """Serve a public page from the cache, with ETag/Last-Modified and 304 answers."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        token_names = _token_names(kwargs)
        if request.method not in ("GET", "HEAD") or token_names is None:
            return view(request, *args, **kwargs)
        key = _page_key(request, token_names)
        response = cache.get(key)
        if response is None:
            response = view(request, *args, **kwargs)
            if isinstance(response, SimpleTemplateResponse):
                response.render()
            if response.status_code in CACHED_STATUSES and isinstance(response, HttpResponse):
                if response.status_code == 200:
                    set_response_etag(response)
                    response.headers.setdefault("Last-Modified", http_date())
                cache.set(key, response, timeout=_seconds_until_midnight())
        if response.status_code != 200:
            return response
        return get_conditional_response(
            request,
            etag=response.headers.get("ETag"),
            last_modified=parse_http_date_safe(response.headers.get("Last-Modified", "")),
            response=response,
        )

    return wrapper


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
    tokens = [LISTINGS_TOKEN]
    if shared_tables() & set(change_set.row_hashes):
        tokens.append(SITE_TOKEN)
    ids = guidance_ids_touched_by(change_set.id)
    if ids:
        tokens.extend(document_token(reference) for reference in references_to_purge(ids))
    cache.delete_many(tokens)
