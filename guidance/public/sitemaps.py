"""sitemap.xml: every public page of every document, dated by the last change that altered it.

A page's date is when the registry last recorded a change to a row the page shows (the history
of the document, its chapters, the blocks shown, update information, endorsements and
relations), so a migration or a minor update dates the pages it changed, and nothing else.
Those dates are read from the history tables once per request, for every section together:
each read scans a table of up to millions of rows.
"""

from django.contrib.sitemaps import Sitemap
from django.contrib.sitemaps.views import sitemap
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

    def __init__(self):
        by_document = [
            _last_changes(Guidance, "id"),
            _last_changes(Chapter, "guidance_id"),
            _last_changes(UpdateEntry, "guidance_id"),
            _last_changes(Endorsement, "guidance_id"),
            _last_changes(Relation, "source_id"),
            _last_changes(Relation, "target_id"),
        ]
        self.document = {}
        for changes in by_document:
            for guidance_id, when in changes.items():
                self.document[guidance_id] = max(when, self.document.get(guidance_id, when))
        self.blocks_of_chapter = _last_changes(Block, "chapter_id")
        self.blocks_of_document = _last_changes(Block, "guidance_id")

    def of_document(self, guidance):
        """The header, notices, navigation and history every page of a document shows."""
        return self.document.get(guidance.pk)

    def of_chapter(self, chapter):
        return _latest(self.of_document(chapter.guidance), self.blocks_of_chapter.get(chapter.pk))

    def of_whole(self, guidance):
        return _latest(self.of_document(guidance), self.blocks_of_document.get(guidance.pk))


def _latest(*times):
    return max((t for t in times if t is not None), default=None)


class DatedSitemap(Sitemap):
    """A section of the sitemap, dated by the LastChanges it shares with the others."""

    def __init__(self, changes):
        self.changes = changes


class DocumentSitemap(DatedSitemap):
    """One kind of page of every public document (stubs have none of their own)."""

    def documents(self):
        return Guidance.objects.published().documents()

    def items(self):
        return list(self.documents().order_by("reference").prefetch_related("chapters"))

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
        return list(
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


def sitemap_xml(request):
    changes = LastChanges()
    return sitemap(request, {name: section(changes) for name, section in SITEMAPS.items()})
