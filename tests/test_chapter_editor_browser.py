"""Editing a guideline of real size a chapter at a time, in a real headless Chromium."""

import pytest

from guidance.history import recording
from guidance.management.commands.make_large_guideline import build_large_guideline
from guidance.models import Block, ChangeSet, Guidance, GuidanceStatus
from tests.browser import needs_chromium, sign_in
from tests.factories import enrol_authenticator, make_document, make_user

PASSWORD = "correct horse battery"

pytestmark = [
    *needs_chromium,
    pytest.mark.django_db(transaction=True),
    pytest.mark.second_factor,
]

authenticators = {}


@pytest.fixture
def site(live_server):
    editor = make_user("editor", groups=["Editors"], is_staff=True, password=PASSWORD)
    authenticators["editor"] = enrol_authenticator(editor)
    return live_server.url


def signed_in(browser, site, username="editor"):
    """A page of a browser signed in to the admin (the one place that knows how)."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(page, site, username, PASSWORD, authenticators[username])
    return page


def open_chapter(page, site, guidance, number):
    """Follow the chapter's link from the document's change page."""
    chapter = guidance.chapters.get(number=number)
    page.goto(f"{site}/admin/guidance/guidance/{guidance.pk}/change/")
    with page.expect_navigation():
        page.click(f"a[href$='/chapter/{chapter.pk}/edit/']")


def new_row(page):
    """The index of the first empty row, for a new paragraph."""
    return int(page.input_value("#id_blocks-INITIAL_FORMS"))


def save(page):
    with page.expect_navigation():
        page.click("input[name=_save]")


def test_a_paragraph_is_inserted_in_chapter_3_of_a_300_recommendation_guideline(
    browser, site, tmp_path
):
    guideline = build_large_guideline("NG999", status=GuidanceStatus.DRAFT)
    page = signed_in(browser, site)
    page.goto(f"{site}/admin/guidance/guidance/{guideline.pk}/change/")
    assert page.locator("text=Edit the paragraphs").count() == 30
    open_chapter(page, site, guideline, "3")

    # Rows: the sub-heading, 3.1, 3.2, …: place 2.5 puts the new one between 3.1 and 3.2.
    row = new_row(page)
    page.fill(f"#id_blocks-{row}-text", "Review the plan with the person at 6 weeks.")
    page.fill(f"#id_blocks-{row}-ORDER", "2.5")
    page.check("#id_renumber")
    page.fill("#id_change_reason", "New advice on review")
    save(page)

    assert "Saved 3 Chapter 3 of NG999" in page.locator("ul.messagelist").inner_text()
    chapter = guideline.chapters.get(number="3")
    numbered = [b for b in Block.objects.filter(chapter=chapter).order_by("position") if b.number]
    assert [b.number for b in numbered[:3]] == ["3.1", "3.2", "3.3"]
    assert numbered[1].text == "Review the plan with the person at 6 weeks."
    assert numbered[2].text.endswith("[3.2]")  # the old 3.2, now 3.3
    assert ChangeSet.objects.filter(reason="New advice on review").count() == 1

    # The text spans the column without scrolling sideways at 1,280 px.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    text = page.locator("#id_blocks-1-text").bounding_box()
    assert text["x"] >= 0 and text["x"] + text["width"] <= 1280 and text["width"] > 600
    page.screenshot(path=tmp_path / "chapter-editor.png")


def test_a_refused_save_keeps_everything_typed(browser, site):
    guidance = make_document("HTG501", status=GuidanceStatus.DRAFT)
    page = signed_in(browser, site)
    open_chapter(page, site, guidance, "2")
    page.fill("#id_blocks-1-text", "My careful rewording.")
    page.fill("#id_blocks-1-bullets", "first\nsecond")
    row = new_row(page)
    page.fill(f"#id_blocks-{row}-text", "My new paragraph.")
    page.fill("#id_change_reason", "Reworded after the committee")
    # Someone else saves the document meanwhile.
    with recording(reason="Someone else's save"):
        guidance.refresh_from_db()
        guidance.version += 1
        guidance.save()
    save(page)

    assert "while you were editing it" in page.locator(".errornote").inner_text()
    assert "Please correct the error" not in page.content()
    assert page.input_value("#id_blocks-1-text") == "My careful rewording."
    assert page.input_value("#id_blocks-1-bullets") == "first\nsecond"
    assert page.input_value(f"#id_blocks-{row}-text") == "My new paragraph."
    assert page.input_value("#id_change_reason") == "Reworded after the committee"
    assert not Block.objects.filter(text="My new paragraph.").exists()


def test_bullets_are_lines_and_any_line_is_a_bullet(browser, site):
    guidance = make_document("HTG501", status=GuidanceStatus.DRAFT)
    page = signed_in(browser, site)
    open_chapter(page, site, guidance, "2")
    page.fill("#id_blocks-1-bullets", '12\n"text"\nfollow-up at 6 weeks')
    page.fill("#id_change_reason", "Bullets")
    save(page)

    block = Block.objects.get(guidance=guidance, number="2.1")
    assert block.bullets == ["12", '"text"', "follow-up at 6 weeks"]
    assert page.input_value("#id_blocks-1-bullets") == '12\n"text"\nfollow-up at 6 weeks'


def test_a_minor_change_to_a_recommendation_is_refused_and_saved_as_major(browser, site):
    document = make_document("HTG501")
    page = signed_in(browser, site)
    page.goto(f"{site}/admin/guidance/guidance/{document.pk}/change/")
    with page.expect_navigation():
        page.click("#start-edition")
    edition = Guidance.with_editions.get(edition_of=document)
    open_chapter(page, site, edition, "1")
    page.fill("#id_blocks-0-text", "Use it only in research.")
    page.check("input[name=change_kind][value=minor]")
    page.fill("#id_change_reason", "Now research only")
    save(page)

    error = page.locator(".block-field.errors", has=page.locator("#id_blocks-0-text"))
    assert "is a major update" in error.inner_text()
    assert page.input_value("#id_blocks-0-text") == "Use it only in research."

    page.check("input[name=change_kind][value=major]")
    page.fill("#id_update_text", "Recommendation 1.1 now says to use it only in research.")
    save(page)
    assert "Saved" in page.locator("ul.messagelist").inner_text()
    assert Block.objects.get(guidance=edition, number="1.1").text == "Use it only in research."
