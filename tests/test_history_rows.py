import pytest
from django.db import IntegrityError

from guidance.history import HistoryWithoutReason, bulk_create_with_history, recording
from guidance.models import Block, ChangeSet, Guidance, Recommendation
from tests.factories import make_chapter, make_document, make_guidance

pytestmark = pytest.mark.django_db


def test_a_save_records_who_and_why_on_its_history_row(as_editor):
    guidance = make_guidance("IPG640")
    with as_editor("Corrected the title"):
        guidance.title = "Corrected title"
        guidance.save()

    latest = guidance.history.first()
    assert latest.title == "Corrected title"
    assert latest.history_user == as_editor.user
    assert latest.history_change_reason == "Corrected the title"
    assert ChangeSet.objects.get(pk=latest.change_set_id).user == as_editor.user


def test_a_write_outside_recording_is_refused_and_leaves_nothing():
    guidance = make_guidance("IPG641")
    guidance.title = "Sneaky"
    with pytest.raises(HistoryWithoutReason):
        guidance.save()
    assert Guidance.objects.get(pk=guidance.pk).title == "Guidance IPG641"


def test_a_change_without_a_reason_is_refused():
    with pytest.raises(HistoryWithoutReason), recording(reason="  "):
        pass


def test_every_row_of_one_save_belongs_to_one_change(as_editor):
    guidance = make_document("IPG700", chapters=2, paragraphs=2, recommendations=1)
    with as_editor("Reworded"):
        for block in guidance.blocks.all():
            block.text += " Reworded."
            block.save()

    change = ChangeSet.objects.get(reason="Reworded")
    assert Block.history.filter(change_set=change).count() == guidance.blocks.count()


def test_bulk_helpers_write_history_in_the_current_change(as_editor):
    guidance = make_guidance("IPG701")
    chapter = make_chapter(guidance)
    with as_editor("Bulk added"):
        bulk_create_with_history(
            [
                Block(guidance=guidance, chapter=chapter, position=n, number=f"1.{n}", text="x")
                for n in range(1, 4)
            ],
            Block,
        )
    change = ChangeSet.objects.get(reason="Bulk added")
    assert Block.history.filter(change_set=change, history_type="+").count() == 3
    assert change.row_hashes and len(change.digest) == 64


def test_a_recommendation_saved_through_its_proxy_keeps_history(as_editor):
    guidance = make_guidance("IPG702")
    chapter = make_chapter(guidance)
    with as_editor("Added a recommendation"):
        rec = Recommendation.objects.create(
            guidance=guidance, chapter=chapter, position=1, number="1.1", text="Do not use."
        )
    assert rec.kind == Block.Kind.RECOMMENDATION
    assert Block.history.filter(id=rec.id).count() == 1


def test_failed_change_leaves_no_change_set_and_no_rows(as_editor):
    guidance = make_guidance("IPG703")
    before = ChangeSet.objects.count()
    with pytest.raises(IntegrityError), as_editor("Will fail"):
        guidance.title = "Half-way"
        guidance.save()
        chapter = make_chapter(guidance)
        make_chapter(guidance, position=chapter.position)  # same position: refused
    assert ChangeSet.objects.count() == before
    assert Guidance.objects.get(pk=guidance.pk).title == "Guidance IPG703"


def test_changes_are_chained_in_order():
    make_guidance("IPG704")
    make_guidance("IPG705")
    first, second = ChangeSet.objects.order_by("-sequence")[:2][::-1]
    assert second.previous_digest == first.digest


@pytest.mark.parametrize(
    "write",
    [
        lambda: Guidance.objects.filter(reference="IPG710").update(title="Quiet"),
        lambda: Block.objects.all().update(text="Quiet"),
        lambda: Guidance.objects.bulk_update(list(Guidance.objects.all()), ["title"]),
        lambda: Recommendation.objects.filter(number="1.1").update(text="Quiet"),
    ],
)
def test_writes_that_would_leave_no_history_are_refused(write):
    from guidance.models import UntrackedWrite  # noqa: PLC0415

    make_document("IPG710", chapters=1, recommendations=1)
    with pytest.raises(UntrackedWrite), recording(reason="Trying a quiet write"):
        write()
    assert Guidance.objects.get(reference="IPG710").title == "Guidance IPG710"


def test_bulk_create_outside_the_history_helper_is_refused():
    from guidance.models import Organisation, UntrackedWrite  # noqa: PLC0415

    with pytest.raises(UntrackedWrite), recording(reason="Quiet insert"):
        Organisation.objects.bulk_create([Organisation(name="Quiet")])
    assert not Organisation.objects.filter(name="Quiet").exists()
