"""An Atom feed (RFC 4287) of published changes: new guidance and dated update information.

Each entry says when the event happened only as precisely as it is known: NICE dates many
updates by month. Atom's own dates must be full date-times, so an entry's `updated` is the
instant the registry recorded the entry (a fact, not a guessed time of day), and the event's
date is given as `dcterms:date` in W3C date format at its own precision: 2019-01-30 for a day,
2026-01 for a month, 2026 for a year. The title names the reference in force at the event.
"""

import uuid

from django.contrib.syndication.views import Feed
from django.db.models import OuterRef, Subquery
from django.urls import reverse_lazy
from django.utils import feedgenerator
from django.utils.html import escape

from ..models import (
    DatePrecision,
    Guidance,
    GuidanceStatus,
    Relation,
    RelationType,
    UpdateEntry,
)

FEED_LENGTH = 50
# Entry ids are URNs made from the document's identity, so that they stay the same whatever the
# host, and when the document is migrated to a new reference.
ENTRY_NAMESPACE = uuid.UUID("6f0c7a5e-3f55-4d0e-9a4b-2f1f6d0c9b11")
W3C_DATE_FORMATS = {
    DatePrecision.DAY: "%Y-%m-%d",
    DatePrecision.MONTH: "%Y-%m",
    DatePrecision.YEAR: "%Y",
}


def w3c_date(value, precision):
    """The date as W3C's date format writes it, no more precisely than it is known."""
    return value.strftime(W3C_DATE_FORMATS[DatePrecision(precision)])


def _known_by(value, precision):
    """A date as a tuple comparable at its precision: (2026, 1) for January 2026."""
    parts = (value.year, value.month, value.day)
    return parts[: {"year": 1, "month": 2, "day": 3}[precision]]


def migrations_into(guidance_ids):
    """{document id: the migrations from its former references, oldest first}."""
    found = {}
    for migration in (
        Relation.objects.filter(type=RelationType.MIGRATED_TO, target_id__in=guidance_ids)
        .exclude(effective_on=None)
        .select_related("source__programme")
        .order_by("effective_on")
    ):
        found.setdefault(migration.target_id, []).append(migration)
    return found


def in_force_on(guidance, migrations, value, precision):
    """The record whose reference was in force on a date: the document, or a former reference.

    A migration's date and the event's are compared at the coarser of the two precisions: an
    event in the month of a migration is taken to be under the new reference.
    """
    event = _known_by(value, precision)
    for migration in migrations:
        effective = _known_by(migration.effective_on, migration.effective_precision)
        coarser = min(len(event), len(effective))
        if event[:coarser] < effective[:coarser]:
            return migration.source
    return guidance


class GuidanceAtomFeed(feedgenerator.Atom1Feed):
    """Atom with each event's date at its known precision, as dcterms:date."""

    def root_attributes(self):
        return {**super().root_attributes(), "xmlns:dcterms": "http://purl.org/dc/terms/"}

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, item)
        handler.addQuickElement("dcterms:date", item["event_date"])


class ChangesFeed(Feed):
    feed_type = GuidanceAtomFeed
    title = "Guidance: published changes"
    link = reverse_lazy("guidance:list")
    subtitle = "Guidance as it is published and updated."
    author_name = "Guidance registry"
    feed_url = reverse_lazy("guidance:feed")

    def items(self):
        first_published = (
            Guidance.history.filter(id=OuterRef("pk"))
            .exclude(status=GuidanceStatus.DRAFT)
            .order_by("history_date")
            .values("history_date")[:1]
        )
        documents = (
            Guidance.objects.published()
            .documents()
            .exclude(published_on=None)
            .select_related("programme")
            .annotate(recorded=Subquery(first_published))
            .order_by("-published_on")[:FEED_LENGTH]
        )
        last_recorded = (
            UpdateEntry.history.filter(id=OuterRef("pk"))
            .order_by("-history_date")
            .values("history_date")[:1]
        )
        entries = (
            UpdateEntry.objects.filter(guidance__in=Guidance.objects.published())
            .select_related("guidance__programme")
            .annotate(recorded=Subquery(last_recorded))
            .order_by("-date", "-pk")[:FEED_LENGTH]
        )
        entries = list(entries)
        documents = list(documents)
        migrations = migrations_into({g.pk for g in documents} | {e.guidance_id for e in entries})
        items = [self.publication(g, migrations.get(g.pk, [])) for g in documents]
        items += [self.update(e, migrations.get(e.guidance_id, [])) for e in entries]
        items.sort(key=lambda item: (item["date"], item["recorded"]), reverse=True)
        return items[:FEED_LENGTH]

    def publication(self, guidance, migrations):
        then = in_force_on(
            guidance, migrations, guidance.published_on, guidance.published_precision
        )
        return {
            "title": f"Published: {then.reference} {guidance.title}",
            "description": f"{then.long_name} was published on {guidance.published_display}.",
            "date": guidance.published_on,
            "event_date": w3c_date(guidance.published_on, guidance.published_precision),
            "recorded": guidance.recorded,
            "link": guidance.get_absolute_url(),
            "id": uuid.uuid5(ENTRY_NAMESPACE, f"published:{guidance.pk}").urn,
        }

    def update(self, entry, migrations):
        guidance = entry.guidance
        then = in_force_on(guidance, migrations, entry.date, entry.precision)
        return {
            "title": f"Updated: {then.reference} {guidance.title}",
            "description": f"{entry.date_display}: {entry.text}",
            "date": entry.date,
            "event_date": w3c_date(entry.date, entry.precision),
            "recorded": entry.recorded,
            "link": guidance.get_history_url(),
            "id": uuid.uuid5(ENTRY_NAMESPACE, f"update:{entry.pk}").urn,
        }

    def item_title(self, item):
        return item["title"]

    def item_description(self, item):
        # The summary is HTML to a feed reader: update text shows as the text it is.
        return escape(item["description"])

    def item_link(self, item):
        return item["link"]

    def item_guid(self, item):
        return item["id"]

    item_guid_is_permalink = False

    def item_updateddate(self, item):
        return item["recorded"]

    def item_extra_kwargs(self, item):
        return {"event_date": item["event_date"]}
