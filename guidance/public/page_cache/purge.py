"""The exact purge after every change, and the hook a front cache's purger connects to.

When a change commits, the tokens of the documents it wrote, of the documents related to them
and of the listings are deleted (the site's too when it wrote what every page shows: a
programme, a responsibility statement, an organisation), so those pages are rendered afresh by
the next request in every process; every other page stays cached. Then pages_purged is sent with
the same names, the surrogate keys of the pages (the xkey header), and the pages of the
documents are rendered again in the background (rerender.render_pages).
"""

import datetime

from django.conf import settings
from django.dispatch import Signal, receiver
from django.tasks import task
from django.utils import timezone

from ...history import change_committed
from ...models import Guidance, Organisation, Programme, Relation, ResponsibilityStatement
from . import tokens
from .rerender import render_pages

# Sent with keys=, the surrogate keys whose pages a change altered: connect a front cache's
# purger to it (for Varnish with xkey, a PURGE request with an "xkey: <keys>" header: front_cache).
pages_purged = Signal()

RETRY_AFTER = datetime.timedelta(seconds=5)


def purge(keys):
    """Drop the pages under these surrogate keys from the page cache, and tell a front cache.

    When the page cache cannot be reached, the purge is queued to run again until it can.
    """
    if not tokens.move(keys):
        retry_purge.using(run_after=timezone.now() + RETRY_AFTER).enqueue(list(keys))
    pages_purged.send(sender=purge, keys=list(keys))


@task
def retry_purge(keys):
    purge(keys)


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
    keys = [tokens.LISTINGS_TOKEN, tokens.HISTORY_TOKEN]
    if shared_tables() & set(change_set.row_hashes):
        keys.append(tokens.SITE_TOKEN)
    references = references_to_purge(change_set.guidance_ids) if change_set.guidance_ids else ()
    keys.extend(tokens.document_token(reference) for reference in sorted(references))
    purge(keys)
    if getattr(settings, "GUIDANCE_PAGE_CACHE", True):
        render_pages.enqueue(sorted(references), keys)
