"""Editing a document a chapter at a time: insert, move, delete and renumber in one save."""

import pytest
from django.urls import reverse

from guidance.management.commands.make_large_guideline import build_large_guideline
from guidance.models import Block, ChangeSet, Guidance, GuidanceStatus
from tests.admin_forms import form_data
from tests.factories import make_document, make_user
from tests.snapshots import all_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(client):
    user = make_user("editor", groups=["Editors"], is_staff=True, first_name="Ed", last_name="Itor")
    client.force_login(user)
    return user


def chapter_url(chapter, page=None):
    url = reverse("admin:guidance_chapter", args=[chapter.guidance_id, chapter.pk])
    return f"{url}?page={page}" if page else url


def page_data(response, **changes):
    """The data of a chapter's page as shown, with some fields changed."""
    formset = response.context["formset"]
    data = form_data(formset.management_form)
    for form in formset.forms:
        form_data(form, data)
    form_data(response.context["form"], data)
    data.update(changes)
    return data


def blocks_of(chapter):
    return list(Block.objects.filter(chapter=chapter).order_by("position"))


def draft_edition(client, guidance):
    response = client.post(reverse("admin:guidance_edition", args=[guidance.pk]))
    assert response.status_code == 302
    return Guidance.with_editions.get(edition_of=guidance)


def test_a_300_recommendation_guideline_opens_and_saves_page_by_page(client, editor):
    guideline = build_large_guideline("NG999", status=GuidanceStatus.DRAFT)
    assert guideline.blocks.count() == 1200
    change = client.get(reverse("admin:guidance_guidance_change", args=[guideline.pk]))
    assert change.status_code == 200
    assert change.content.decode().count("Edit the paragraphs") == 30

    recommendations = guideline.chapters.get(number="1")
    first = client.get(chapter_url(recommendations))
    pages = list(first.context["pages"])
    assert len(pages) > 1
    shown = []
    for page in pages:
        response = client.get(chapter_url(recommendations, page))
        data = page_data(response, change_reason="Checked every page")
        assert len(data) < 1000  # Django refuses a request of more fields
        shown += [form.initial["id"] for form in response.context["formset"].initial_forms]
        saved = client.post(chapter_url(recommendations, page), data)
        assert saved.status_code == 302, (
            saved.context["form"].errors,
            [e for e in saved.context["formset"].errors if e],
            saved.context["formset"].non_form_errors(),
        )
    assert shown == [block.pk for block in blocks_of(recommendations)]
    assert recommendations.blocks.filter(kind="recommendation").count() == 300


def test_a_paragraph_inserted_in_chapter_3_and_renumbered_in_one_save(client, editor):
    guidance = make_document("HTG501", status=GuidanceStatus.DRAFT, paragraphs=4)
    chapter = guidance.chapters.get(number="3")
    before = {block.number: block.key for block in blocks_of(chapter) if block.number}
    page = client.get(chapter_url(chapter))
    # Rows: sub-heading, 3.1, 3.2, 3.3, 3.4; the new one goes between 3.1 and 3.2.
    data = page_data(
        page,
        renumber="on",
        change_reason="Added advice on follow-up",
        **{
            "blocks-5-kind": "paragraph",
            "blocks-5-text": "Follow up within 6 weeks.",
            "blocks-5-ORDER": "2.5",
        },
    )
    response = client.post(chapter_url(chapter), data)

    assert response.status_code == 302, response.context["form"].errors
    rows = [(b.number, b.text) for b in blocks_of(chapter) if b.number]
    assert rows == [
        ("3.1", "Paragraph 3.1."),
        ("3.2", "Follow up within 6 weeks."),
        ("3.3", "Paragraph 3.2."),
        ("3.4", "Paragraph 3.3."),
        ("3.5", "Paragraph 3.4."),
    ]
    # Each paragraph keeps its identity under its new number.
    assert Block.objects.get(chapter=chapter, number="3.3").key == before["3.2"]
    assert ChangeSet.objects.filter(reason="Added advice on follow-up").count() == 1


def test_moves_and_deletions_keep_each_recommendations_key(client, editor):
    guidance = make_document("HTG501", status=GuidanceStatus.DRAFT, recommendations=3)
    chapter = guidance.chapters.get(number="1")
    first, second, third = blocks_of(chapter)
    page = client.get(chapter_url(chapter))
    data = page_data(
        page,
        renumber="on",
        change_reason="1.1 now comes last; 1.2 withdrawn",
        **{"blocks-0-ORDER": "9", "blocks-1-DELETE": "on"},
    )
    assert client.post(chapter_url(chapter), data).status_code == 302
    assert [(b.key, b.number) for b in blocks_of(chapter)] == [
        (third.key, "1.1"),
        (first.key, "1.2"),
    ]
    history = Block.history.filter(key=first.key).order_by("history_date", "history_id")
    assert history.first().number == "1.1" and history.last().number == "1.2"
    # The page says what each recommendation was numbered before.
    page = client.get(chapter_url(chapter)).content.decode()
    assert "Numbered before: 1.3" in page  # the old 1.3, now 1.1
    assert "Numbered before: 1.1" in page  # the old 1.1, now 1.2


def test_bullets_are_typed_one_a_line(client, editor):
    guidance = make_document("HTG501", status=GuidanceStatus.DRAFT)
    chapter = guidance.chapters.get(number="2")
    page = client.get(chapter_url(chapter))
    data = page_data(
        page, change_reason="Bullets", **{"blocks-1-bullets": '12\n"text"\n\n  a third  '}
    )
    assert client.post(chapter_url(chapter), data).status_code == 302
    block = Block.objects.get(chapter=chapter, number="2.1")
    assert block.bullets == ["12", '"text"', "a third"]
    shown = client.get(chapter_url(chapter)).content.decode()
    assert "12\n&quot;text&quot;\na third</textarea>" in shown


def test_a_save_over_someone_elses_keeps_every_input_and_says_why(client, editor):
    guidance = make_document("HTG501", status=GuidanceStatus.DRAFT)
    chapter = guidance.chapters.get(number="2")
    page = client.get(chapter_url(chapter))
    other = client.get(chapter_url(chapter))
    client.post(chapter_url(chapter), page_data(other, change_reason="First"))
    before = all_rows()
    data = page_data(
        page,
        change_reason="My careful rewording",
        **{"blocks-1-text": "My new text.", "blocks-5-text": "My new paragraph."},
    )
    response = client.post(chapter_url(chapter), data)

    assert response.status_code == 200
    content = response.content.decode()
    assert "was saved by Ed Itor" in content
    assert "Please correct the error" not in content
    for typed in ("My careful rewording", "My new text.", "My new paragraph."):
        assert typed in content
    assert all_rows() == before


def test_a_number_taken_twice_is_a_field_error_with_nothing_saved(client, editor):
    guidance = make_document("HTG501", status=GuidanceStatus.DRAFT)
    chapter = guidance.chapters.get(number="2")
    before = all_rows()
    page = client.get(chapter_url(chapter))
    data = page_data(page, change_reason="Typo", **{"blocks-2-number": "2.1"})
    response = client.post(chapter_url(chapter), data)
    assert response.status_code == 200
    errors = response.context["formset"].forms[2].errors
    assert "Another paragraph in this chapter is numbered 2.1" in errors["number"][0]
    assert "IntegrityError" not in response.content.decode()
    assert all_rows() == before


def test_a_minor_change_to_a_recommendation_is_refused_and_saves_as_major(client, editor):
    document = make_document("HTG501", recommendations=2)
    edition = draft_edition(client, document)
    chapter = edition.chapters.get(number="1")
    page = client.get(chapter_url(chapter))
    typed = {"blocks-0-text": "Use it only in research.", "change_kind": "minor"}
    refused = client.post(chapter_url(chapter), page_data(page, change_reason="Reworded", **typed))

    assert refused.status_code == 200
    assert "is a major update" in refused.context["formset"].forms[0].errors["text"][0]
    assert "is a major update" in refused.context["form"].errors["change_kind"][0]
    assert "Use it only in research." in refused.content.decode()

    major = {**typed, "change_kind": "major", "update_text": "We changed recommendation 1.1."}
    saved = client.post(chapter_url(chapter), page_data(page, change_reason="Reworded", **major))
    assert saved.status_code == 302
    edition.refresh_from_db()
    assert edition.pending_update_text == "We changed recommendation 1.1."
    assert ChangeSet.objects.get(reason="Reworded").kind == "major"
    # The public still reads the published text.
    assert "Use it only in research." not in client.get(document.get_absolute_url()).text


def test_a_minor_change_to_a_paragraph_is_saved(client, editor):
    edition = draft_edition(client, make_document("HTG501"))
    chapter = edition.chapters.get(number="2")
    page = client.get(chapter_url(chapter))
    data = page_data(page, change_reason="Typo", change_kind="minor", **{"blocks-1-text": "Fixed."})
    assert client.post(chapter_url(chapter), data).status_code == 302


def test_published_guidance_is_edited_in_its_draft_edition(client, editor):
    document = make_document("HTG501")
    response = client.get(chapter_url(document.chapters.get(number="2")))
    assert response.status_code == 302
    assert response.headers["Location"] == reverse(
        "admin:guidance_guidance_change", args=[document.pk]
    )


def test_the_benchmark_opens_and_saves_the_largest_page_of_a_large_guideline(editor):
    from bench.editor import time_editor  # noqa: PLC0415

    figures = time_editor()
    assert figures["document"].endswith("30 chapters, 1200 blocks")
    assert figures["page"].startswith("chapter 1, page")
    assert Block.objects.filter(text__endswith="(round 4)").count() == 1


def test_a_guidance_number_out_of_range_is_a_field_error(client, editor):
    from guidance.models import Programme  # noqa: PLC0415

    inlines = ("chapters", "endorsements", "update_entries", "relations")
    response = client.post(
        reverse("admin:guidance_guidance_add"),
        {
            "programme": str(Programme.objects.get(code="NG").pk),
            "number": "1000000",
            "title": "A guideline",
            "published_precision": "day",
            "change_reason": "New topic",
            **{f"{p}-{n}_FORMS": "0" for p in inlines for n in ("TOTAL", "INITIAL")},
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["number"]
    assert not Guidance.objects.filter(number=1000000).exists()


def test_the_change_form_says_only_what_happened_when_someone_else_saved_first(client, editor):
    from tests.admin_forms import change_form_data  # noqa: PLC0415

    guidance = make_document("HTG501", status=GuidanceStatus.DRAFT)
    url = reverse("admin:guidance_guidance_change", args=[guidance.pk])
    page = client.get(url)
    client.post(url, change_form_data(page, title="First", change_reason="First"))
    response = client.post(url, change_form_data(page, title="Mine", change_reason="Mine"))
    content = response.content.decode()
    assert "was saved by Ed Itor" in content
    assert "Please correct the error" not in content
    assert 'value="Mine"' in content


def test_a_draft_never_published_can_still_be_deleted_after_a_chapter_save(client, editor):
    guidance = make_document("HTG501", status=GuidanceStatus.DRAFT)
    chapter = guidance.chapters.get(number="2")
    page = client.get(chapter_url(chapter))
    client.post(chapter_url(chapter), page_data(page, change_reason="Reworded"))
    delete = reverse("admin:guidance_guidance_delete", args=[guidance.pk])
    response = client.post(delete, {"post": "yes", "change_reason": "Not needed"})
    assert response.status_code == 302
    assert not Guidance.with_editions.filter(pk=guidance.pk).exists()


def test_two_chapters_swap_places_in_one_save(client, editor):
    from tests.admin_forms import change_form_data  # noqa: PLC0415

    guidance = make_document("HTG501", status=GuidanceStatus.DRAFT, chapters=3)
    url = reverse("admin:guidance_guidance_change", args=[guidance.pk])
    page = client.get(url)
    data = change_form_data(
        page,
        change_reason="Chapter 3 comes before chapter 2",
        **{
            "chapters-1-position": "3",
            "chapters-1-number": "3",
            "chapters-1-slug": "",
            "chapters-2-position": "2",
            "chapters-2-number": "2",
            "chapters-2-slug": "",
        },
    )
    response = client.post(url, data)
    assert response.status_code == 302, [
        inline.formset.errors for inline in response.context["inline_admin_formsets"]
    ] + [inline.formset.non_form_errors() for inline in response.context["inline_admin_formsets"]]
    chapters = [(c.number, c.title, c.slug) for c in guidance.chapters.order_by("position")]
    assert chapters[1:] == [("2", "Chapter 3", "2-chapter-3"), ("3", "Chapter 2", "3-chapter-2")]


def test_two_chapters_at_one_place_are_refused_at_the_form_with_nothing_saved(client, editor):
    from tests.admin_forms import change_form_data  # noqa: PLC0415

    guidance = make_document("HTG501", status=GuidanceStatus.DRAFT, chapters=3)
    url = reverse("admin:guidance_guidance_change", args=[guidance.pk])
    before = all_rows()
    page = client.get(url)
    data = change_form_data(page, change_reason="Oops", **{"chapters-2-position": "2"})
    response = client.post(url, data)
    assert response.status_code == 200
    assert "duplicate data for position" in response.content.decode()
    assert all_rows() == before
