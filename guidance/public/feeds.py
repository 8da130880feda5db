"""An Atom feed of published changes: new guidance and dated update information."""

import datetime

from django.contrib.syndication.views import Feed
from django.urls import reverse_lazy
from django.utils import feedgenerator, timezone

from ..models import Guidance, UpdateEntry

FEED_LENGTH = 50


def _midnight(date):
    return datetime.datetime.combine(date, datetime.time(), tzinfo=timezone.get_current_timezone())


class ChangesFeed(Feed):
    feed_type = feedgenerator.Atom1Feed
    title = "Guidance: published changes"
    link = reverse_lazy("guidance:list")
    subtitle = "Guidance as it is published and updated."

    def items(self):
        published = [
            {
                "title": f"Published: {guidance.reference} {guidance.title}",
                "description": f"{guidance.long_name} was published on "
                f"{guidance.published_display}.",
                "date": guidance.published_on,
                "link": guidance.get_absolute_url(),
                "id": f"published-{guidance.reference}",
            }
            for guidance in Guidance.objects.published()
            .documents()
            .exclude(published_on=None)
            .select_related("programme")
            .order_by("-published_on")[:FEED_LENGTH]
        ]
        updates = [
            {
                "title": f"Updated: {entry.guidance.reference} {entry.guidance.title}",
                "description": f"{entry.date_display}: {entry.text}",
                "date": entry.date,
                "link": entry.guidance.get_history_url(),
                "id": f"update-{entry.pk}",
            }
            for entry in UpdateEntry.objects.filter(guidance__in=Guidance.objects.published())
            .select_related("guidance")
            .order_by("-date", "-pk")[:FEED_LENGTH]
        ]
        return sorted(published + updates, key=lambda item: item["date"], reverse=True)[
            :FEED_LENGTH
        ]

    def item_title(self, item):
        return item["title"]

    def item_description(self, item):
        return item["description"]

    def item_link(self, item):
        return item["link"]

    def item_guid(self, item):
        return item["id"]

    item_guid_is_permalink = False

    def item_pubdate(self, item):
        return _midnight(min(item["date"], timezone.localdate()))

    def item_updateddate(self, item):
        # An entry is never dated in the future, whatever date a record carries.
        return _midnight(min(item["date"], timezone.localdate()))
