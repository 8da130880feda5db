"""Draft editions, review, scheduled publication and the relation rules, through the admin."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from guidance.models import (
    Block,
    ChangeKind,
    ChangeSet,
    Guidance,
    GuidanceStatus,
    RelationType,
    ReviewState,
)
from tests.admin_forms import change_form_data, form_data
from tests.factories import make_document, make_guidance, make_relation, make_user

pytestmark = pytest.mark.django_db


def signed_in(username, group):
    client = Client()
    user = make_user(username, groups=[group], is_staff=True)
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def editor():
    return signed_in("editor", "Editors")


@pytest.fixture
def publisher():
    return signed_in("publisher", "Publishers")


def change_url(guidance):
    return reverse("admin:guidance_guidance_change", args=[guidance.pk])


def start_draft(client, document):
    response = client.post(reverse("admin:guidance_edition", args=[document.pk]))
    assert response.status_code == 302
    edition = Guidance.with_editions.get(edition_of=document)
    assert response.headers["Location"] == change_url(edition)
    return edition


def save(client, draft, reason="Reworded", **changes):
    page = client.get(change_url(draft))
    data = change_form_data(page, change_reason=reason, **changes)
    response = client.post(change_url(draft), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return response


def save_chapter(client, draft, number, reason="Reworded", **changes):
    """Save a chapter's page of the draft as shown, with some fields changed."""
    chapter = draft.chapters.get(number=number)
    url = reverse("admin:guidance_chapter", args=[draft.pk, chapter.pk])
    page = client.get(url)
    formset = page.context["formset"]
    data = form_data(formset.management_form)
    for form in formset.forms:
        form_data(form, data)
    form_data(page.context["form"], data)
    data.update(change_reason=reason, **changes)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    return response


def submit(client, draft, note="Please publish"):
    url = reverse("admin:guidance_submit", args=[draft.pk])
    return client.post(url, {"note": note})


def review(client, draft, decision, comment="Looks right", publish_at=""):
    url = reverse("admin:guidance_review", args=[draft.pk])
    return client.post(url, {"decision": decision, "comment": comment, "publish_at": publish_at})


def public_text(client, document):
    return client.get(document.get_absolute_url()).content.decode()


def test_an_edit_of_published_guidance_stays_off_the_public_page_until_approved(
    editor, publisher, django_capture_on_commit_callbacks
):
    document = make_document("HTG501", title="Venoplasty")
    reader = Client()
    assert b"Edit in a draft edition" in editor.get(change_url(document)).content

    draft = start_draft(editor, document)
    save(editor, draft, title="Venoplasty for CCSVI")
    save_chapter(editor, draft, "2", **{"blocks-1-text": "Use it.", "change_kind": "minor"})

    assert "Venoplasty for CCSVI" not in public_text(reader, document)
    assert Guidance.objects.get(reference="HTG501") == document  # one document, not two
    assert reader.get("/guidance/?q=CCSVI").content.decode().count("HTG501") == 0
    saves = ChangeSet.objects.filter(reason="Reworded")
    assert {(c.source, c.guidance) for c in saves} == {(ChangeSet.Source.DRAFT, document)}

    submit(editor, draft, note="Clearer title")
    assert b"Clearer title" in publisher.get(reverse("admin:index")).content
    with django_capture_on_commit_callbacks(execute=True):  # the page cache is purged on commit
        response = review(publisher, draft, "publish", comment="Approved for release")
    assert response.status_code == 302

    page = public_text(reader, document)
    chapter = document.chapters.get(number="2")
    assert "Venoplasty for CCSVI" in page
    assert "Use it." in reader.get(chapter.get_absolute_url()).content.decode()
    assert not Guidance.with_editions.filter(edition_of=document).exists()
    publication = ChangeSet.objects.get(reason="Approved for release")
    assert publication.source == ChangeSet.Source.PUBLICATION
    assert publication.user == publisher.user
    # A minor edition leaves 'Last updated' alone.
    assert Guidance.objects.get(pk=document.pk).last_updated_on is None


def test_the_published_form_is_read_only_and_opens_the_existing_draft(editor):
    document = make_document("HTG501")
    draft = start_draft(editor, document)
    page = editor.get(change_url(document)).content.decode()
    assert 'name="title"' not in page
    assert change_url(draft) in page
    assert start_draft(editor, document) == draft  # a second start opens the same draft


def test_publishing_keeps_each_recommendation_by_its_key_through_a_renumbering(editor):
    from guidance.editions import publish_edition  # noqa: PLC0415

    document = make_document("HTG501", recommendations=2)
    first = document.blocks.get(number="1.1")
    draft = start_draft(editor, document)
    # 1.1 moves after 1.2 and becomes 1.3.
    save_chapter(
        editor,
        draft,
        "1",
        change_kind="major",
        update_text="Recommendation 1.1 is now 1.3.",
        **{"blocks-0-ORDER": "3", "blocks-0-number": "1.3"},
    )
    publish_edition(edition=draft, user=editor.user, reason="Reordered")

    first.refresh_from_db()
    assert (first.number, first.position, first.text) == ("1.3", 2, "Recommendation 1 text.")
    assert document.blocks.get(number="1.2").position == 1
    # The history of the recommendation first numbered 1.1 follows it to 1.3.
    numbers = [row.number for row in Block.history.filter(key=first.key, guidance_id=document.pk)]
    assert numbers[0] == "1.3" and numbers[-1] == "1.1"


def test_the_diff_shows_words_changed_beside_the_published_edition(editor):
    document = make_document("HTG501", recommendations=1)
    draft = start_draft(editor, document)
    save_chapter(
        editor,
        draft,
        "1",
        change_kind="major",
        update_text="Reworded 1.1.",
        **{"blocks-0-text": "Recommendation 1 text, with care."},
    )
    page = editor.get(reverse("admin:guidance_changes", args=[draft.pk])).content.decode()
    assert "<del>text.</del>" in page
    assert "<ins>text, with care.</ins>" in page


def test_a_draft_sent_back_waits_for_its_editor_with_the_comment(editor, publisher):
    draft = make_guidance("HTG900", status=GuidanceStatus.DRAFT)
    submit(editor, draft)
    review(publisher, draft, "send-back", comment="Cite the 2025 evidence")
    index = editor.get(reverse("admin:index")).content.decode()
    assert "Your drafts sent back" in index and "Cite the 2025 evidence" in index
    draft.refresh_from_db()
    assert draft.review_state == ReviewState.SENT_BACK


# The worker closes its connection after a batch, as it does between tasks: the test commits.
@pytest.mark.django_db(transaction=True)
def test_a_scheduled_draft_goes_live_only_when_the_worker_finds_it_due(
    editor, publisher, django_capture_on_commit_callbacks
):
    document = make_document("HTG501", title="Venoplasty")
    draft = start_draft(editor, document)
    save(
        editor,
        draft,
        title="Embargoed title",
        change_kind="major",
        update_text="New evidence.",
    )
    submit(editor, draft)
    at = timezone.localtime() + datetime.timedelta(hours=1)
    response = review(publisher, draft, "schedule", publish_at=at.strftime("%Y-%m-%dT%H:%M"))
    assert response.status_code == 302

    drain = {"batch": True, "stdout": io.StringIO(), "stderr": io.StringIO()}
    call_command("db_worker", **drain)
    assert "Embargoed title" not in public_text(Client(), document)  # nothing early

    # The moment passes with the worker down: the admin shows it as overdue.
    draft.refresh_from_db()
    past = timezone.now() - datetime.timedelta(minutes=5)
    from guidance.history import recording  # noqa: PLC0415

    with recording(user=publisher.user, reason="Test: the moment passes"):
        draft.publish_at = past
        draft.save()
    index = publisher.get(reverse("admin:index")).content.decode()
    assert "overdue" in index

    from guidance.tasks import publish_due_guidance  # noqa: PLC0415

    publish_due_guidance.enqueue()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("db_worker", **drain)
    document.refresh_from_db()
    assert document.title == "Embargoed title"
    assert document.last_updated_on == timezone.localdate()
    assert "Embargoed title" in public_text(Client(), document)
    publication = ChangeSet.objects.get(source=ChangeSet.Source.PUBLICATION)
    assert publication.kind == ChangeKind.MAJOR
    assert "approved by publisher" in publication.reason


def test_a_future_published_date_is_refused_unless_scheduled(editor, publisher):
    draft = make_guidance("HTG900", status=GuidanceStatus.DRAFT)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    page = editor.get(change_url(draft))
    response = editor.post(
        change_url(draft),
        change_form_data(page, published_on=tomorrow.isoformat(), change_reason="Embargo"),
    )
    assert response.status_code == 200
    assert "nothing is published" in response.content.decode()
    assert "early" in response.content.decode()


def test_migrated_to_is_not_offered_in_the_relations_inline(publisher):
    document = make_document("HTG501")
    page = publisher.get(change_url(document)).content.decode()
    assert 'value="replaces"' in page
    assert 'value="migrated-to"' not in page


def test_a_migrated_to_relation_posted_by_hand_is_refused(publisher):
    document, other = make_document("HTG501"), make_document("HTG502")
    page = publisher.get(change_url(document))
    data = change_form_data(
        page,
        change_reason="By hand",
        **{
            "relations-TOTAL_FORMS": "1",
            "relations-0-type": RelationType.MIGRATED_TO,
            "relations-0-target": str(other.pk),
            "relations-0-effective_precision": "month",
            "relations-0-position": "0",
        },
    )
    response = publisher.post(change_url(document), data)
    assert response.status_code == 200
    assert not document.relations.exists()


def test_a_replacement_of_a_former_reference_is_recorded_against_its_document(publisher):
    current = make_document("HTG520", title="Current")
    former = make_guidance("IPG166", is_stub=True)
    make_relation(former, RelationType.MIGRATED_TO, current)
    newer = make_document("HTG600")
    url = reverse("admin:guidance_replace", args=[newer.pk])
    response = publisher.post(url, {"replaced": "IPG166", "reason": "New guidance"}, follow=True)

    relation = newer.relations.get()
    assert relation.target == current
    assert "IPG166 now leads to HTG520" in response.content.decode()


def test_a_replacement_added_in_the_relations_inline_follows_a_former_reference(publisher):
    current = make_document("HTG520")
    former = make_guidance("IPG166", is_stub=True)
    make_relation(former, RelationType.MIGRATED_TO, current)
    newer = make_document("HTG600")
    page = publisher.get(change_url(newer))
    data = change_form_data(
        page,
        change_reason="Replaces the old procedure",
        **{
            "relations-TOTAL_FORMS": "1",
            "relations-0-type": RelationType.REPLACES,
            "relations-0-target": str(former.pk),
            "relations-0-effective_precision": "month",
            "relations-0-position": "0",
        },
    )
    response = publisher.post(change_url(newer), data, follow=True)
    assert newer.relations.get().target == current
    assert "IPG166 now leads to HTG520" in response.content.decode()


def test_a_new_document_scheduled_goes_live_dated_the_day_it_is_published(
    editor, publisher, django_capture_on_commit_callbacks
):
    draft = make_guidance("HTG900", status=GuidanceStatus.DRAFT, title="New procedure")
    submit(editor, draft)
    at = timezone.localtime() + datetime.timedelta(minutes=30)
    with django_capture_on_commit_callbacks(execute=True):
        review(publisher, draft, "schedule", publish_at=at.strftime("%Y-%m-%dT%H:%M:%S"))
    draft.refresh_from_db()
    assert (draft.status, draft.review_state) == (GuidanceStatus.DRAFT, ReviewState.SCHEDULED)
    assert b"HTG900" in editor.get(reverse("admin:index")).content  # scheduled, for everyone
    assert Client().get("/guidance/htg900/").status_code == 404

    from guidance.editions import publish_due  # noqa: PLC0415

    assert publish_due(user=publisher.user) == []  # not yet due
    from guidance.history import recording  # noqa: PLC0415

    with recording(user=publisher.user, reason="Test: the moment passes"):
        draft.publish_at = timezone.now()
        draft.save()
    assert publish_due(user=publisher.user) == ["HTG900"]
    draft.refresh_from_db()
    assert draft.status == GuidanceStatus.PUBLISHED
    assert draft.published_on == timezone.localdate()
    assert draft.review_state == ReviewState.EDITING
