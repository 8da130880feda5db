import datetime
import re

import pytest

from guidance.history import recording
from guidance.models import (
    Block,
    GuidanceStatus,
    Programme,
    RelationType,
    ResponsibilityStatement,
)
from tests.factories import (
    make_chapter,
    make_document,
    make_endorsement,
    make_guidance,
    make_relation,
    make_update_entry,
)

pytestmark = pytest.mark.django_db


def text_of(response):
    """The visible words of a page, on one line."""
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def add_responsibility(code, text, applies_from=datetime.date(2020, 1, 1)):
    with recording(reason="Test data"):
        return ResponsibilityStatement.objects.create(
            programme=Programme.objects.get(code=code), applies_from=applies_from, text=text
        )


def test_overview_shows_the_header_contents_and_recommendations(client):
    guidance = make_document("HTG501", chapters=3, isbn="978-1-4731-8875-4")
    make_endorsement(guidance)
    add_responsibility("HTG", "This guidance represents the view of NICE.\n\nReport problems.")

    response = client.get("/guidance/htg501/")

    page = text_of(response)
    assert response.status_code == 200
    assert "HealthTech guidance" in page
    assert "Reference: HTG501" in page
    assert "Published: 30 January 2019" in page
    assert "Last updated" not in page
    assert "Your responsibility This guidance represents the view of NICE. Report problems." in page
    assert "1 Recommendations" in page and "2 Chapter 2" in page and "3 Chapter 3" in page
    assert "Recommendation 1 text." in page
    assert "This guidance has been endorsed by Healthcare Improvement Scotland." in page
    assert "ISBN: 978-1-4731-8875-4" in page
    assert response.content.decode().count("<h1") == 1


def test_the_summary_under_the_title_is_shown(client):
    make_guidance("NG203", summary="Evidence-based recommendations on chronic kidney disease.")
    page = text_of(client.get("/guidance/ng203/"))
    assert "Evidence-based recommendations on chronic kidney disease." in page


def test_last_updated_shows_only_after_a_major_change(client):
    make_guidance(
        "HTG502", last_updated_on=datetime.date(2026, 1, 1), last_updated_precision="month"
    )
    assert "Last updated: January 2026" in text_of(client.get("/guidance/htg502/"))


def test_a_published_date_known_to_the_month_is_not_given_a_day(client):
    make_guidance("HTG503", published_on=datetime.date(2019, 1, 1), published_precision="month")
    assert "Published: January 2019" in text_of(client.get("/guidance/htg503/"))


def test_the_responsibility_statement_in_force_today_is_shown(client):
    make_guidance("DG44")
    add_responsibility("DG", "Old wording.", datetime.date(2015, 1, 1))
    add_responsibility("DG", "Current wording.", datetime.date(2020, 1, 1))
    add_responsibility("DG", "Future wording.", datetime.date(2999, 1, 1))

    page = text_of(client.get("/guidance/dg44/"))

    assert "Current wording." in page
    assert "Old wording." not in page and "Future wording." not in page


def test_a_programme_without_a_responsibility_statement_shows_none(client):
    make_guidance("TA1")
    assert "Your responsibility" not in text_of(client.get("/guidance/ta1/"))


def test_the_replaces_line_links_to_replaced_and_former_references(client):
    current = make_guidance("HTG501")
    make_relation(current, RelationType.REPLACES, make_guidance("IPG420", is_stub=True))
    make_relation(make_guidance("IPG640", is_stub=True), RelationType.MIGRATED_TO, current)

    html = client.get("/guidance/htg501/").content.decode()

    assert re.search(
        r'This guidance replaces <a href="/guidance/ipg420/">IPG420</a> and '
        r'<a href="[^"]+">IPG640</a>\.',
        html,
    )


def test_a_chapter_shows_every_block_with_linkable_numbers(client):
    guidance = make_guidance("HTG504")
    make_chapter(guidance, "1", "Recommendations", blocks=[("recommendation", "1.1", "Use it.")])
    chapter = make_chapter(
        guidance,
        "2",
        "The condition, current treatments and procedure",
        blocks=[
            ("heading", "", "The condition"),
            ("paragraph", "2.1", "Multiple sclerosis is a disease."),
            ("paragraph", "", "An unnumbered paragraph."),
        ],
    )
    with recording(reason="Test data"):
        Block.objects.create(
            guidance=guidance,
            chapter=chapter,
            position=4,
            number="2.2",
            text="Treatments include:",
            bullets=["rehabilitation", "medication"],
        )
        Block.objects.create(
            guidance=guidance,
            chapter=chapter,
            position=5,
            kind="rationale",
            title="Why the committee made these recommendations",
            text="Because the evidence was weak.",
        )

    response = client.get(
        "/guidance/htg504/chapter/2-the-condition-current-treatments-and-procedure/"
    )

    html = response.content.decode()
    page = text_of(response)
    assert response.status_code == 200
    assert "<h3" in html and "The condition" in page
    assert 'id="2.1"' in html and 'href="#2.1"' in html
    assert "An unnumbered paragraph." in page
    assert re.search(r"<li>rehabilitation</li>\s*<li>medication</li>", html)
    assert "Why the committee made these recommendations Because the evidence was weak." in page
    assert 'href="/guidance/htg504/chapter/1-recommendations/" rel="prev"' in html


def test_chapters_link_to_the_next_and_previous_chapter(client):
    make_document("HTG505", chapters=3)
    html = client.get("/guidance/htg505/chapter/2-chapter-2/").content.decode()
    assert 'href="/guidance/htg505/chapter/3-chapter-3/" rel="next"' in html
    assert 'href="/guidance/htg505/chapter/1-recommendations/" rel="prev"' in html


def test_the_whole_document_is_on_one_page_to_read_or_print(client):
    guidance = make_document("HTG516", chapters=3, isbn="978-1-4731-1212-4")
    make_update_entry(guidance, "Typo corrected.")

    overview = client.get("/guidance/htg516/").content.decode()
    page = text_of(client.get("/guidance/htg516/whole/"))

    assert 'href="/guidance/htg516/whole/"' in overview
    assert "Recommendation 2 text." in page
    assert "Paragraph 2.4." in page and "Paragraph 3.4." in page
    assert "Minor changes since publication January 2026: Typo corrected." in page
    assert "ISBN: 978-1-4731-1212-4" in page


def test_the_isbn_is_printed_at_the_end_of_the_last_chapter(client):
    make_document("HTG506", chapters=2, isbn="978-1-4731-1212-4")
    assert "ISBN: 978-1-4731-1212-4" in text_of(client.get("/guidance/htg506/chapter/2-chapter-2/"))
    assert "ISBN" not in text_of(client.get("/guidance/htg506/chapter/1-recommendations/"))


def test_inline_links_are_rendered_safely(client):
    guidance = make_guidance("HTG507")
    make_chapter(
        guidance,
        blocks=[
            (
                "recommendation",
                "1.1",
                "See [the guideline](https://www.nice.org.uk/guidance/ng220), "
                "[a placeholder](#), [a trap](javascript:alert(1)) and <b>bold</b>.",
            )
        ],
    )

    html = client.get("/guidance/htg507/chapter/1-recommendations/").content.decode()

    assert '<a href="https://www.nice.org.uk/guidance/ng220">the guideline</a>' in html
    assert "a placeholder" in html and 'href="#"' not in html
    assert 'href="javascript' not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_history_lists_major_then_minor_updates_and_the_lineage(client):
    current = make_guidance("HTG501")
    make_update_entry(current, "Migrated to HealthTech.", date=datetime.date(2026, 1, 1))
    make_update_entry(current, "Recommendations updated.", kind="major")
    make_relation(current, RelationType.REPLACES, make_guidance("IPG420", is_stub=True))
    make_relation(
        make_guidance("IPG640", is_stub=True),
        RelationType.MIGRATED_TO,
        current,
        effective_on=datetime.date(2026, 1, 1),
    )

    response = client.get("/guidance/htg501/history/")

    page = text_of(response)
    assert page.index("Recommendations updated.") < page.index("Minor changes since publication")
    assert page.index("Minor changes since publication") < page.index("Migrated to HealthTech.")
    assert "Published as IPG640 : 30 January 2019" in page
    assert "Replaced IPG420" in page
    assert "IPG640 migrated to HTG501 in January 2026" in page
    html = response.content.decode()
    assert 'href="/guidance/ipg420/"' in html and 'href="/guidance/ipg640/"' in html


def test_a_replaced_document_says_so_and_links_to_its_successor(client):
    old = make_guidance("IPG346", is_stub=True, title="")
    make_relation(make_guidance("IPG508", title="New procedure"), RelationType.REPLACES, old)

    response = client.get("/guidance/ipg346/")

    assert response.status_code == 200
    assert re.search(
        r'This guidance has been updated and replaced by <a href="/guidance/ipg508/">'
        r"NICE interventional procedures guidance 508</a>",
        response.content.decode(),
    )


def test_withdrawn_guidance_explains_and_its_chapters_lead_to_the_overview(client):
    guidance = make_document(
        "IPG100",
        status=GuidanceStatus.WITHDRAWN,
        status_explanation="Withdrawn because the device is no longer made.",
    )

    overview = client.get("/guidance/ipg100/")
    chapter = client.get("/guidance/ipg100/chapter/1-recommendations/")

    assert "This guidance has been withdrawn." in text_of(overview)
    assert "Withdrawn because the device is no longer made." in text_of(overview)
    assert "Recommendation 1 text." not in text_of(overview)
    assert chapter.status_code == 302
    assert chapter["Location"] == guidance.get_absolute_url()


@pytest.mark.parametrize(
    "url",
    [
        "/guidance/ipg200/",
        "/guidance/IPG200/",
        "/guidance/ipg200/chapter/1-recommendations/",
        "/guidance/ipg200/history/",
    ],
)
def test_drafts_are_not_found_whatever_the_url(client, url):
    make_document("IPG200", status=GuidanceStatus.DRAFT)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("url", ["/guidance/ipg999/", "/guidance/not-a-ref/", "/nowhere/"])
def test_unknown_pages_are_not_found_with_a_helpful_page(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert "Page not found" in text_of(response)


def test_an_unknown_chapter_is_not_found(client):
    make_document("HTG508")
    assert client.get("/guidance/htg508/chapter/9-nothing/").status_code == 404


@pytest.mark.parametrize("url", ["/guidance/HTG509/", "/guidance/Htg0509/", "/guidance/htg509"])
def test_other_spellings_of_a_reference_redirect_to_the_canonical_url(client, url):
    make_guidance("HTG509")
    response = client.get(url, follow=True)
    assert response.redirect_chain[-1] == ("/guidance/htg509/", 301)


def test_a_chapter_slug_in_another_case_redirects_to_the_canonical_url(client):
    make_document("HTG510")
    response = client.get("/guidance/HTG510/chapter/1-Recommendations/")
    assert response.status_code == 301
    assert response["Location"] == "/guidance/htg510/chapter/1-recommendations/"


@pytest.mark.parametrize(
    "url", ["/guidance/htg511/", "/guidance/HTG511/", "/guidance/nothing-here/", "/guidance/"]
)
def test_security_headers_arrive_on_pages_redirects_and_errors(client, url):
    make_guidance("HTG511")
    response = client.get(url)
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_pages_carry_no_inline_script_or_style(client):
    make_document("HTG512")
    for url in ("/guidance/", "/guidance/htg512/", "/guidance/htg512/history/"):
        html = client.get(url).content.decode()
        assert "<script" not in html
        assert "style=" not in html and "<style" not in html


def test_a_page_answers_a_conditional_request_with_not_modified(client):
    make_guidance("HTG513")
    first = client.get("/guidance/htg513/")
    assert first["ETag"] and first["Last-Modified"]

    by_etag = client.get("/guidance/htg513/", headers={"If-None-Match": first["ETag"]})
    by_date = client.get("/guidance/htg513/", headers={"If-Modified-Since": first["Last-Modified"]})

    assert by_etag.status_code == 304
    assert by_date.status_code == 304


@pytest.mark.parametrize(
    "url",
    [
        "/guidance/{ref}/",
        "/guidance/{ref}/chapter/1-recommendations/",
        "/guidance/{ref}/chapter/2-chapter-2/",
        "/guidance/{ref}/chapter/{last}/",
        "/guidance/{ref}/history/",
        "/guidance/{ref}/whole/",
    ],
)
def test_a_page_runs_as_many_queries_for_a_large_document_as_for_a_small_one(
    client, django_assert_max_num_queries, url
):
    small = make_document("HTG514", chapters=2, paragraphs=1, recommendations=1)
    large = make_document("HTG515", chapters=50, paragraphs=11, recommendations=100)
    for guidance in (small, large):
        make_endorsement(guidance)
        make_endorsement(guidance, "Health and Care Wales")
        make_update_entry(guidance)
    add_responsibility("HTG", "Wording.")

    with django_assert_max_num_queries(8):
        small_page = client.get(url.format(ref="htg514", last="2-chapter-2"))
    with django_assert_max_num_queries(8):
        large_page = client.get(url.format(ref="htg515", last="50-chapter-50"))

    assert large_page.status_code == 200
    assert small_page.status_code in (200, 404)


def test_links_to_a_document_follow_the_url_configuration_in_force(client, settings):
    document = make_document("HTG501", chapters=1)
    settings.ROOT_URLCONF = "tests.prefixed_urls"
    chapter = document.chapters.get()
    assert document.get_absolute_url() == "/registry/guidance/htg501/"
    assert chapter.get_absolute_url() == f"/registry/guidance/htg501/chapter/{chapter.slug}/"
    html = client.get("/registry/guidance/htg501/").content.decode()
    assert f'href="/registry/guidance/htg501/chapter/{chapter.slug}/"' in html
    assert 'href="/registry/guidance/htg501/history/"' in html
