"""Time the editor on a guideline of real size: open and save its largest page, in-process."""

import statistics
import time
from html.parser import HTMLParser

ROUNDS = 5


def time_editor():
    """Build a 300-recommendation draft guideline, then time its largest page's GET and POST."""
    from django.contrib.auth import get_user_model  # noqa: PLC0415
    from django.contrib.auth.models import Group  # noqa: PLC0415
    from django.db.models import Max  # noqa: PLC0415
    from django.test import Client  # noqa: PLC0415
    from django.urls import reverse  # noqa: PLC0415

    from bench.tasks import pass_second_factor  # noqa: PLC0415
    from guidance.editorial.services import chapter_parts  # noqa: PLC0415
    from guidance.management.commands.make_large_guideline import (  # noqa: PLC0415
        build_large_guideline,
    )
    from guidance.models import Guidance, GuidanceStatus  # noqa: PLC0415

    number = (
        Guidance.with_editions.filter(programme__code="NG").aggregate(n=Max("number"))["n"] or 0
    ) + 1
    guideline = build_large_guideline(f"NG{number}", status=GuidanceStatus.DRAFT)
    user, _ = get_user_model().objects.get_or_create(username="bench-editor")
    user.groups.add(Group.objects.get(name="Editors"))
    user.is_staff = True
    user.save()
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    pass_second_factor(client, user)  # the editing pages ask for it

    chapter, page, size = max(
        (
            (chapter, index, len(part))
            for chapter in guideline.chapters.all()
            for index, part in enumerate(chapter_parts(chapter), start=1)
        ),
        key=lambda entry: entry[2],
    )
    url = reverse("admin:guidance_chapter", args=[guideline.pk, chapter.pk]) + f"?page={page}"
    opened, saved = [], []
    for round_number in range(ROUNDS):
        started = time.perf_counter()
        response = client.get(url)
        opened.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
        data = _page_data(response)
        data["blocks-1-text"] = f"{data['blocks-1-text']} (round {round_number})"
        data["change_reason"] = "Benchmark: one paragraph reworded"
        started = time.perf_counter()
        response = client.post(url, data)
        saved.append(time.perf_counter() - started)
        assert response.status_code == 302, response.status_code
    return {
        "document": f"{guideline.reference}: {guideline.chapters.count()} chapters, "
        f"{guideline.blocks.count()} blocks",
        "page": f"chapter {chapter.number}, page {page}: {size} blocks, {len(data)} fields",
        "open_seconds": round(statistics.median(opened), 3),
        "save_seconds": round(statistics.median(saved), 3),
    }


class _Forms(HTMLParser):
    """The fields of each form of a page with the values a browser would send unchanged."""

    def __init__(self):
        super().__init__()
        self.forms, self._textarea, self._select, self._first_option = [], None, None, None

    @property
    def data(self):
        return self.forms[-1] if self.forms else {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "form":
            self.forms.append({})
        elif tag == "input" and name and attrs.get("type") not in ("submit", "button"):
            if attrs.get("type") in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.data[name] = attrs.get("value", "on")
            else:
                self.data[name] = attrs.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""
        elif tag == "select" and name:
            self._select, self._first_option = name, True
        elif tag == "option" and self._select:
            if "selected" in attrs or self._first_option:
                self.data[self._select] = attrs.get("value", "")
            self._first_option = False

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            # The browser drops the newline that follows <textarea>.
            self.data[self._textarea] += (
                data.removeprefix("\n") if not self.data[self._textarea] else data
            )


def form_with(html, field):
    """The data of the page's first form that has a field named field, as a browser sends it
    unchanged; None if no form has it."""
    parser = _Forms()
    parser.feed(html)
    return next((form for form in parser.forms if field in form), None)


def _page_data(response):
    """The chapter page's form data as the browser would send it."""
    return form_with(response.content.decode(), "change_reason")
