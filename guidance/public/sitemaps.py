"""sitemap.xml: every public document and chapter, dated by its last major update."""

from django.contrib.sitemaps import Sitemap

from ..models import Chapter, Guidance, GuidanceStatus


def _last_major_change(guidance):
    return guidance.last_updated_on or guidance.published_on


class GuidanceSitemap(Sitemap):
    def items(self):
        return Guidance.objects.published().documents().order_by("reference")

    def lastmod(self, guidance):
        return _last_major_change(guidance)


class ChapterSitemap(Sitemap):
    def items(self):
        return (
            Chapter.objects.filter(
                guidance__status=GuidanceStatus.PUBLISHED, guidance__is_stub=False
            )
            .select_related("guidance")
            .order_by("guidance__reference", "position")
        )

    def lastmod(self, chapter):
        return _last_major_change(chapter.guidance)


SITEMAPS = {"guidance": GuidanceSitemap, "chapters": ChapterSitemap}
