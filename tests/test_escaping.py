"""Hostile text in every editor field reaches every page as text: never markup, never run."""

import csv
import io
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from guidance.history import recording
from guidance.models import (
    Block,
    ChangeKind,
    Chapter,
    Endorsement,
    GuidanceStatus,
    Organisation,
    Relation,
    RelationType,
    UpdateEntry,
)
from tests.browser import needs_chromium
from tests.factories import enrol_authenticator, make_guidance, make_user

# Each payload, if it became markup, would add an element marked data-xss, run alert() or
# link off the site.
PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2) data-xss>",
    '"><svg onload=alert(3) data-xss>',
    "<a href='javascript:alert(4)' data-xss>a</a>",
    "[js](javascript:alert`5`)",
    "[data](data:text/html,alert)",
    "[slash](/\\evil.example)",
    "[double](\\\\evil.example)",
    "[proto](//evil.example)",
    "&lt;b data-xss&gt;entity&lt;/b&gt;",
    "&#60;i data-xss&#62;",
    "<svg><script>alert(6)</script></svg>",
    "' onmouseover='alert(7)' data-xss='",
]
CORPUS = " ".join(PAYLOADS)
SHORT = "<img src=x onerror=alert(8) data-xss>"
PASSWORD = "correct horse battery"


class Markup(HTMLParser):
    """What a page's HTML would make of the payloads: any element or link they created."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "data-xss" in attributes or any(name.startswith("on") for name in attributes):
            self.found.append(f"<{tag} {attrs}>")
        if tag == "script" and "src" not in attributes:
            self.found.append("inline <script>")
        href = (attributes.get("href") or "").strip().lower()
        if href.startswith(("javascript:", "data:", "//", "/\\", "\\")):
            self.found.append(f"<{tag} href={href!r}>")


def injected(html):
    parser = Markup()
    parser.feed(html)
    return parser.found


@pytest.fixture
def hostile_document():
    """A published document whose every editor field holds the corpus, and its history."""
    document = make_guidance(
        "HTG777", title=CORPUS[:500], summary=CORPUS, isbn="<b>", last_updated_on=None
    )
    other = make_guidance("HTG778", status=GuidanceStatus.WITHDRAWN, status_explanation=CORPUS)
    with recording(reason=CORPUS, kind=ChangeKind.MAJOR):
        chapter = Chapter.objects.create(
            guidance=document, position=1, number="1", title=CORPUS[:500]
        )
        for position, kind in enumerate(
            [Block.Kind.HEADING, Block.Kind.PARAGRAPH, Block.Kind.RECOMMENDATION], start=1
        ):
            Block.objects.create(
                guidance=document,
                chapter=chapter,
                position=position,
                kind=kind,
                number=f"1.{position}" if kind != Block.Kind.HEADING else "",
                text=CORPUS,
                bullets=PAYLOADS,
            )
        Block.objects.create(
            guidance=document,
            chapter=chapter,
            position=4,
            kind=Block.Kind.RATIONALE,
            title=CORPUS[:500],
            text=CORPUS,
            bullets=PAYLOADS,
        )
        UpdateEntry.objects.create(
            guidance=document, position=1, date="2026-01-01", kind=ChangeKind.MAJOR, text=CORPUS
        )
        Relation.objects.create(
            source=document, type=RelationType.REPLACES, target=other, note=CORPUS
        )
        Endorsement.objects.create(
            guidance=document,
            organisation=Organisation.objects.create(name=SHORT),
            statement=CORPUS,
        )
    return document


def page_urls(document):
    chapter = document.chapters.first()
    change = document.history.latest("history_date").change_set_id
    ref = document.reference.lower()
    return [
        reverse("guidance:list") + "?q=" + "htg777",
        reverse("guidance:overview", args=[ref]),
        reverse("guidance:chapter", args=[ref, chapter.slug]),
        reverse("guidance:history", args=[ref]),
        reverse("guidance:whole", args=[ref]),
        reverse("guidance:overview", args=["htg778"]),
        reverse("admin:guidance_guidance_change", args=[document.pk]),
        reverse("admin:guidance_guidance_changelist") + "?q=htg777",
        reverse("admin:guidance_guidance_history", args=[document.pk]),
        reverse("admin:guidance_changeset_changelist"),
        reverse("admin:guidance_preview", args=[document.pk]),
        reverse("audit:timeline", args=[ref]),
        reverse("audit:as-it-stood", args=[ref]) + f"?at={change}",
        reverse("audit:diff", args=[ref]) + f"?change={change}",
        reverse("audit:log"),
    ]


@pytest.mark.django_db
def test_the_corpus_is_text_on_every_public_admin_and_history_page(client, hostile_document):
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    for url in page_urls(hostile_document):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert injected(html) == [], url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url


@pytest.mark.django_db
def test_the_csv_carries_the_corpus_as_data_never_as_a_page(client, hostile_document):
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    response = client.get(reverse("audit:log-csv"))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert any(CORPUS in row for row in rows)


@pytest.mark.browser
@pytest.mark.skipif(*needs_chromium[1].args, **needs_chromium[1].kwargs)
@pytest.mark.django_db(transaction=True)
@pytest.mark.second_factor
def test_in_chromium_no_payload_runs_or_adds_an_element(browser, live_server, hostile_document):
    document = hostile_document
    user = make_user("root", is_superuser=True, is_staff=True, password=PASSWORD)
    code = enrol_authenticator(user)
    page = browser.new_context().new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")
    page.fill("#id_code", code())
    with page.expect_navigation():
        page.click("form:not(.sign-out) button[type=submit]")

    for url in page_urls(document):
        page.goto(f"{live_server.url}{url}")
        page.hover("main, #content", timeout=2000)
        found = page.evaluate(
            """() => [...document.querySelectorAll('[data-xss], svg script, script:not([src])')]
                .map(e => e.outerHTML).concat([...document.querySelectorAll('a[href]')]
                .filter(a => !['http:', 'https:', 'mailto:'].includes(a.protocol)
                             || a.hostname.includes('evil'))
                .map(a => a.href))"""
        )
        assert found == [], url
    assert dialogs == []
