"""Guidance as a PDF: the whole document as NICE lays it out, kept with the page cache."""

import html as html_module
import io
import re

import pypdf
import pytest
from django.core.management import call_command

from guidance.models import Block, Guidance
from guidance.public import views

pytestmark = pytest.mark.django_db

PDF = "/guidance/htg501/pdf/"


@pytest.fixture(autouse=True)
def samples():
    call_command("load_samples", stdout=io.StringIO(), stderr=io.StringIO())


@pytest.fixture
def renders(monkeypatch):
    """The number of PDFs WeasyPrint has made so far."""
    made = []

    def counted(*args, **kwargs):
        made.append(1)
        return render_pdf(*args, **kwargs)

    render_pdf = views.render_pdf
    monkeypatch.setattr(views, "render_pdf", counted)
    return made


def words(text):
    return " ".join(text.replace("\u00ad", "").split())


def pdf_pages(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    return [
        words(page.extract_text()) for page in pypdf.PdfReader(io.BytesIO(response.content)).pages
    ]


def paragraphs_of(html):
    """The text of each paragraph, list item and heading of the whole-document page's content."""
    main = html[html.index('<div class="document document--whole">') : html.index("</main>")]
    found = re.findall(r"<(p|li|h[1-3])\b[^>]*>(.*?)</\1>", main, flags=re.S)
    return [words(html_module.unescape(re.sub(r"<[^>]+>", "", text))) for _, text in found]


def test_the_pdf_has_every_paragraph_of_the_whole_document_page(client):
    page = client.get("/guidance/htg501/whole/").content.decode()
    text = " ".join(pdf_pages(client.get(PDF)))

    expected = [
        paragraph.replace(" (PDF)", "")
        for paragraph in paragraphs_of(page)
        if paragraph and not paragraph.startswith(("Back to the overview", "Download guidance"))
    ]
    # A link's address is printed after its words.
    without_addresses = re.sub(r" ?\(https?://[^)]*\)", "", text)
    assert len(expected) > 25
    for paragraph in expected:
        assert paragraph in without_addresses, f"not in the PDF: {paragraph!r}"
    assert "1.1 Current evidence on percutaneous venoplasty" in text


def test_the_pdf_is_laid_out_as_nice_publishes_it(client):
    pages = pdf_pages(client.get(PDF))
    text = " ".join(pages)

    title_block = pages[0]
    assert title_block.startswith(
        "Percutaneous venoplasty for chronic cerebrospinal venous insufficiency in multiple "
        "sclerosis HealthTech guidance Reference: HTG501 Published: 30 January 2019 "
        "http://testserver/guidance/htg501/"
    )
    order = [
        "Your responsibility",
        "Contents 1 Recommendations",
        "This guidance replaces IPG420",
        "1 Recommendations 1.1",
        "2 The condition, current treatments and procedure The condition 2.1",
        "3 Committee considerations The evidence 3.1",
        "Update information Minor changes after publication January 2026: Interventional",
        "ISBN: 978-1-4731-8875-4",
        "Endorsing organisation This guidance has been endorsed by Healthcare Improvement",
    ]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)
    # The contents give each chapter's page number.
    assert re.search(r"3 Committee considerations\s*\.+\s*\d+ Update information\s*\.+\s*\d+", text)


def test_every_pdf_page_names_the_site_the_address_and_the_date_printed(client):
    pages = pdf_pages(client.get(PDF))

    assert len(pages) > 3
    for number, page in enumerate(pages, start=1):
        assert re.search(
            r"Guidance registry · http://testserver/guidance/htg501/ · printed \d{1,2} \w+ \d{4}",
            page,
        ), number
        assert f"Page {number} of {len(pages)}" in page


def test_pdf_links_print_with_their_full_address(client):
    text = " ".join(pdf_pages(client.get(PDF)))

    assert "IPG420 (http://testserver/guidance/ipg420/)" in text


def test_the_pdf_is_made_once_per_state_of_the_document_and_again_after_a_change(
    client, renders, as_editor, django_capture_on_commit_callbacks
):
    first = client.get(PDF)
    again = client.get(PDF)
    assert len(renders) == 1
    assert again.content == first.content

    paragraph = Block.objects.get(guidance__reference="HTG501", number="2.3")
    with django_capture_on_commit_callbacks(execute=True), as_editor("Reworded 2.3"):
        paragraph.text = "The aim of the procedure is reworded."
        paragraph.save()

    changed = client.get(PDF)
    assert len(renders) == 2
    assert "2.3 The aim of the procedure is reworded." in " ".join(pdf_pages(changed))


def test_a_former_reference_leads_to_the_pdf_of_its_document(client):
    response = client.get("/guidance/IPG640/pdf/")
    assert response.status_code == 301
    assert response["Location"] == PDF


def test_a_stub_has_no_pdf_and_leads_to_its_page(client):
    assert Guidance.objects.get(reference="IPG420").is_stub
    response = client.get("/guidance/ipg420/pdf/")
    assert response.status_code == 302
    assert response["Location"] == "/guidance/ipg420/"


@pytest.mark.parametrize(
    "url",
    [
        "/guidance/htg501/",
        "/guidance/htg501/chapter/1-recommendations/",
        "/guidance/htg501/chapter/update-information/",
        "/guidance/htg501/history/",
        "/guidance/htg501/whole/",
    ],
)
def test_every_page_of_a_document_links_to_its_pdf(client, url):
    html = client.get(url).content.decode()
    assert f'<a href="{PDF}" download>Download guidance (PDF)</a>' in html
