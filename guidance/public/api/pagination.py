"""Cursor pagination over an ordered search: a page starts after (or ends before) a document.

Relevance has no column to seek on, so the cursor names the document at the page's edge and
the page is found by its place in the ordered references: publishing or withdrawing other
guidance meanwhile neither repeats nor skips a document. If that document left the results,
the position it had is used instead.
"""

import base64
import binascii
import json

from django.utils.http import urlencode

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class InvalidCursor(ValueError):
    def __init__(self, message, field="cursor"):
        super().__init__(message)
        self.field = field


def encode(data):
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def decode(cursor):
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        direction = "after" if "after" in data else "before"
        return direction, str(data[direction]), int(data["at"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidCursor(f"{cursor!r} is not a cursor this API gave: follow `next`.") from None


class CursorPage:
    """One page of a queryset, with the cursors of the pages before and after it."""

    def __init__(self, request, queryset):
        self.request = request
        self.size = self.page_size(request.GET.get("page_size"))
        references = list(queryset.values_list("reference", flat=True))
        start = 0
        if cursor := request.GET.get("cursor"):
            direction, reference, at = decode(cursor)
            try:
                edge = references.index(reference)
            except ValueError:
                edge = at if direction == "after" else at + 1
            start = edge + 1 if direction == "after" else max(edge - self.size, 0)
        self.count = len(references)
        self.references = references[start : start + self.size]
        self.start = start
        found = {g.reference: g for g in queryset.filter(reference__in=self.references)}
        self.items = [found[reference] for reference in self.references if reference in found]
        self.has_next = start + self.size < len(references)
        self.has_previous = start > 0

    @staticmethod
    def page_size(value):
        if not value:
            return PAGE_SIZE
        try:
            size = int(value)
        except ValueError:
            raise InvalidCursor(f"{value!r} is not a whole number.", "page_size") from None
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidCursor(f"Give a page size from 1 to {MAX_PAGE_SIZE}.", "page_size")
        return size

    def link(self, direction, reference, at):
        query = self.request.GET.copy()
        query["cursor"] = encode({direction: reference, "at": at})
        url = f"{self.request.path}?{urlencode(query, doseq=True)}"
        return self.request.build_absolute_uri(url)

    def data(self, results):
        return {
            "count": self.count,
            "next": self.link("after", self.references[-1], self.start + len(self.references) - 1)
            if self.has_next
            else None,
            "previous": self.link("before", self.references[0], self.start)
            if self.has_previous
            else None,
            "results": results,
        }
