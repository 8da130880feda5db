import pytest
from django.urls import reverse
from django.utils import timezone

from guidance.audit.trail import word_diff
from guidance.history import recording
from guidance.models import Block, ChangeSet
from tests.factories import make_auditor, make_document, make_endorsement, make_user

pytestmark = pytest.mark.django_db

BEFORE = (
    "Current evidence shows serious complications. Therefore, this procedure should not be "
    "used in the management of multiple sclerosis."
)
AFTER = (
    "Current evidence shows serious complications. Therefore, this procedure should only be "
    "used in research in the management of multiple sclerosis."
)


def reworded():
    document = make_document("HTG800", chapters=2, recommendations=1)
    with recording(reason="Imported wording"):
        block = document.blocks.get(number="1.1")
        block.text = BEFORE
        block.save()
    with recording(reason="New evidence on harms", kind="major"):
        block.text = AFTER
        block.save()
    return document


def diff_page(client, **params):
    client.force_login(make_auditor())
    return client.get(reverse("audit:diff", args=["htg800"]), params)


def test_a_change_is_summarised_per_part_as_a_reader_would_say_it(client):
    reworded()
    response = diff_page(client, change=ChangeSet.objects.get(reason="New evidence on harms").pk)

    assert [part.summary for part in response.context["changes"]] == [
        "recommendation 1.1: 'should not be used' → 'should only be used in research'"
    ]
    html = response.content.decode()
    assert "<del>not</del> <ins>only</ins>" in html
    assert "<ins>in research</ins>" in html


def test_two_dates_and_times_can_be_compared(client):
    reworded()
    first = ChangeSet.objects.get(reason="Imported wording")
    second = ChangeSet.objects.get(reason="New evidence on harms")
    response = diff_page(
        client,
        **{
            "from": timezone.localtime(first.created_at).isoformat(),
            "to": timezone.localtime(second.created_at).isoformat(),
        },
    )
    summaries = [part.summary for part in response.context["changes"]]
    assert summaries == [
        "recommendation 1.1: 'should not be used' → 'should only be used in research'"
    ]


def test_changes_can_be_named_by_their_number_in_the_chain(client):
    reworded()
    first = ChangeSet.objects.get(reason="Imported wording")
    second = ChangeSet.objects.get(reason="New evidence on harms")
    response = diff_page(client, **{"from": first.sequence, "to": second.sequence})
    assert [part.summary for part in response.context["changes"]] == [
        "recommendation 1.1: 'should not be used' → 'should only be used in research'"
    ]


def test_field_changes_are_shown_old_to_new(client):
    reworded()
    document = make_document("HTG801")
    publisher = make_user("publisher", groups=["Publishers"])
    document.withdraw(by=publisher, reason="Safety", explanation="Withdrawn after new evidence.")
    client.force_login(make_auditor())
    response = client.get(
        reverse("audit:diff", args=["htg801"]),
        {"change": ChangeSet.objects.get(reason="Safety").pk},
    )
    summary = response.context["changes"][0].summary
    assert summary.startswith("document: status 'Published' → 'Withdrawn'")
    assert "public explanation '' → 'Withdrawn after new evidence.'" in summary


def test_added_and_removed_parts_are_named(client):
    document = reworded()
    make_endorsement(document)
    chapter = document.chapters.get(number="2")
    with recording(reason="Restructured"):
        Block.objects.create(
            guidance=document, chapter=chapter, position=99, number="2.9", text="New paragraph."
        )
        document.blocks.get(number="2.1").delete()
    first = ChangeSet.objects.get(reason="New evidence on harms")
    last = ChangeSet.objects.get(reason="Restructured")

    response = diff_page(client, **{"from": first.pk, "to": last.pk})
    summaries = [part.summary for part in response.context["changes"]]
    assert "paragraph 2.1 removed" in summaries
    assert "paragraph 2.9 added" in summaries
    assert "endorsement by Healthcare Improvement Scotland added" in summaries


def test_text_is_escaped_in_a_diff(client):
    html, phrases = word_diff("Use <b>care</b>.", 'Use <script>alert("x")</script> care.')
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert phrases


def test_points_in_the_wrong_order_are_refused_clearly(client):
    reworded()
    first = ChangeSet.objects.get(reason="Imported wording")
    second = ChangeSet.objects.get(reason="New evidence on harms")
    response = diff_page(client, **{"from": second.pk, "to": first.pk})
    assert response.status_code == 400
    assert "later than the second" in response.content.decode()


def test_a_missing_point_is_refused_clearly(client):
    reworded()
    response = diff_page(client, **{"from": "2026-01-01"})
    assert response.status_code == 400
    assert "Give a change number or id, a date" in response.content.decode()
