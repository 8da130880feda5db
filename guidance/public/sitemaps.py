"""sitemap.xml: every public page of every document, dated by the last change that altered it.

A page's date is when the registry last recorded a change to a row the page shows (the history
of the document, its chapters, the blocks shown, update information, endorsements and
relations), so a migration or a minor update dates the pages it changed, and nothing else.
/sitemap.xml is an index of the sections (overviews, chapters, ...), each served in pages of
at most SITEMAP_PAGE_SIZE addresses: 10,000 documents make some 70,000 addresses, more than the
50,000 one sitemap may hold, and more than one request could render in time. The dates a page
needs are read from the history tables once per request, when first asked for.
"""

import functools

from django.contrib.sitemaps import Sitemap
from django.contrib.sitemaps.views import index, sitemap
from django.db.models import Max
from django.urls import reverse

from ..models import (
    Block,
    Chapter,
    Endorsement,
    Guidance,
    GuidanceStatus,
    Relation,
    UpdateEntry,
)


def _last_changes(model, key):
    """{key value: the time of the last recorded change} over a model's history."""
    rows = model.history.order_by().values(key).annotate(last=Max("history_date"))
    return {row[key]: row["last"] for row in rows}


class LastChanges:
    """When the rows each page shows last changed, read once per sitemap."""

    @functools.cached_property
    def document(self):
        """{guidance id: last change} of what every page of a document shows."""
        by_document = [
            _last_changes(Guidance, "id"),
            _last_changes(Chapter, "guidance_id"),
            _last_changes(UpdateEntry, "guidance_id"),
            _last_changes(Endorsement, "guidance_id"),
            _last_changes(Relation, "source_id"),
            _last_changes(Relation, "target_id"),
        ]
        document = {}
        for changes in by_document:
            for guidance_id, when in changes.items():
                document[guidance_id] = max(when, document.get(guidance_id, when))
        return document

    @functools.cached_property
    def blocks_of_chapter(self):
        return _last_changes(Block, "chapter_id")

    @functools.cached_property
    def blocks_of_document(self):
        return _last_changes(Block, "guidance_id")

    def of_document(self, guidance):
        """The header, notices, navigation and history every page of a document shows."""
        return self.document.get(guidance.pk)

    def of_chapter(self, chapter):
        return _latest(self.of_document(chapter.guidance), self.blocks_of_chapter.get(chapter.pk))

    def of_whole(self, guidance):
        return _latest(self.of_document(guidance), self.blocks_of_document.get(guidance.pk))


def _latest(*times):
    return max((t for t in times if t is not None), default=None)


SITEMAP_PAGE_SIZE = 10_000


class DatedSitemap(Sitemap):
    """A section of the sitemap, dated by the LastChanges it shares with the others."""

    limit = SITEMAP_PAGE_SIZE

    def __init__(self, changes):
        self.changes = changes

    def get_latest_lastmod(self):
        # The index names each section without a date: dating it would read every page's.
        return None


class DocumentSitemap(DatedSitemap):
    """One kind of page of every public document (stubs have none of their own)."""

    def documents(self):
        return Guidance.objects.published().documents()

    def items(self):
        # A queryset: the index counts it, and each page reads only its own slice.
        return self.documents().order_by("reference").prefetch_related("chapters")

    def lastmod(self, guidance):
        return self.changes.of_document(guidance)


class OverviewSitemap(DocumentSitemap):
    def lastmod(self, guidance):
        # The overview shows the recommendations.
        shown = next((c for c in guidance.chapters.all() if c.is_recommendations), None)
        blocks = shown and self.changes.blocks_of_chapter.get(shown.pk)
        return _latest(self.changes.of_document(guidance), blocks)


class WholeDocumentSitemap(DocumentSitemap):
    def documents(self):
        return super().documents().filter(status=GuidanceStatus.PUBLISHED)

    def location(self, guidance):
        return guidance.get_whole_url()

    def lastmod(self, guidance):
        return self.changes.of_whole(guidance)


class HistorySitemap(DocumentSitemap):
    def location(self, guidance):
        return guidance.get_history_url()


class UpdateInformationSitemap(DocumentSitemap):
    def documents(self):
        return (
            super()
            .documents()
            .filter(status=GuidanceStatus.PUBLISHED, update_entries__isnull=False)
            .distinct()
        )

    def location(self, guidance):
        return reverse("guidance:chapter", args=[guidance.reference.lower(), "update-information"])


class ChapterSitemap(DatedSitemap):
    def items(self):
        return (
            Chapter.objects.filter(
                guidance__status=GuidanceStatus.PUBLISHED, guidance__is_stub=False
            )
            .select_related("guidance")
            .order_by("guidance__reference", "position")
        )

    def lastmod(self, chapter):
        return self.changes.of_chapter(chapter)


SITEMAPS = {
    "guidance": OverviewSitemap,
    "chapters": ChapterSitemap,
    "update-information": UpdateInformationSitemap,
    "whole": WholeDocumentSitemap,
    "history": HistorySitemap,
}


def sections():
    changes = LastChanges()
    return {name: section(changes) for name, section in SITEMAPS.items()}


def sitemap_index(request):
    return index(request, sections(), sitemap_url_name="guidance:sitemap-section")


def sitemap_section(request, section):
    return sitemap(request, sections(), section=section)
