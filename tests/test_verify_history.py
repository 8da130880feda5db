import io
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from guidance import ledger
from guidance.history import recording
from guidance.models import Block, ChangeSet, Guidance
from tests.factories import make_document, make_guidance
from tests.history_triggers import triggers_lifted

pytestmark = pytest.mark.django_db


def verify(*args):
    out = io.StringIO()
    try:
        call_command("verify_history", *args, stdout=out)
    except CommandError as error:
        return False, out.getvalue(), str(error)
    return True, out.getvalue(), ""


def sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_untouched_history_verifies_and_prints_the_chain_head():
    make_document("IPG900")
    ok, out, _ = verify()
    head = ChangeSet.objects.order_by("-sequence").first()
    assert ok
    assert f"Chain head: {head.sequence}:{head.digest}" in out
    assert "no problems found" in out


def test_a_history_row_altered_by_a_superuser_is_caught():
    guidance = make_document("IPG901", chapters=1, recommendations=2)
    block = Block.history.filter(guidance_id=guidance.pk, number="1.2").get()
    with triggers_lifted(connection):
        sql(
            "UPDATE guidance_historicalblock SET text = %s WHERE history_id = %s",
            ["Should only be used in research.", block.history_id],
        )

    ok, out, error = verify()
    assert not ok
    assert f"First problem: guidance_historicalblock {block.history_id}: changed content" in out
    # The live block no longer matches the (forged) latest history row either.
    assert f"guidance_block {block.id}: live row differs from its latest history row in text" in out
    assert "2 problem(s)" in error


def test_a_history_row_deleted_by_a_superuser_is_caught():
    guidance = make_guidance("IPG902")
    row = guidance.history.get()
    with triggers_lifted(connection):
        sql("DELETE FROM guidance_historicalguidance WHERE history_id = %s", [row.history_id])

    ok, out, _ = verify()
    assert not ok
    assert f"guidance_historicalguidance {row.history_id}: missing row" in out


def test_a_history_row_slipped_in_outside_any_change_is_caught():
    guidance = make_guidance("IPG903")
    row = guidance.history.get()
    row.history_id = None
    row.title = "Never published"
    Guidance.history.model.objects.bulk_create([row])
    forged = Guidance.history.filter(title="Never published").get()

    ok, out, _ = verify()
    assert not ok
    assert f"guidance_historicalguidance {forged.history_id}: row not in any sealed change" in out


def test_a_rewritten_reason_breaks_the_chain():
    make_guidance("IPG904", reason="Imported from NICE")
    change = ChangeSet.objects.get(reason="Imported from NICE")
    with triggers_lifted(connection):
        sql("UPDATE guidance_changeset SET reason = %s WHERE id = %s", ["Tidy", change.pk.hex])

    ok, out, _ = verify()
    assert not ok
    assert f"guidance_changeset {change.sequence}: changed content" in out


def test_a_live_row_changed_without_history_is_caught():
    guidance = make_guidance("IPG905")
    sql("UPDATE guidance_guidance SET title = %s WHERE id = %s", ["Quietly changed", guidance.pk])

    ok, out, _ = verify()
    assert not ok
    assert (
        f"guidance_guidance {guidance.pk}: live row differs from its latest history row in title"
        in out
    )


def test_a_live_row_with_no_history_is_caught():
    guidance = make_guidance("IPG906")
    sql(
        "INSERT INTO guidance_organisation (name) VALUES (%s)",
        ["Organisation added behind history's back"],
    )

    ok, out, _ = verify()
    assert not ok
    assert "guidance_organisation" in out
    assert "live row with no history" in out
    assert guidance.pk


def test_a_head_kept_outside_the_system_is_checked():
    make_guidance("IPG907")
    head = ChangeSet.objects.order_by("-sequence").first()

    assert verify("--expect-head", f"{head.sequence}:{head.digest}")[0]
    ok, out, _ = verify("--expect-head", f"{head.sequence}:{'0' * 64}")
    assert not ok
    assert "the head you kept had digest" in out


def test_a_malformed_head_is_refused_with_an_example():
    with pytest.raises(CommandError, match="SEQUENCE:DIGEST"):
        call_command("verify_history", "--expect-head", "latest")


def test_history_head_prints_sequence_and_digest():
    make_guidance("IPG908")
    head = ChangeSet.objects.order_by("-sequence").first()
    out = io.StringIO()
    call_command("history_head", stdout=out)
    assert out.getvalue().splitlines()[0] == f"{head.sequence}:{head.digest}"


def test_verification_hashes_rows_exactly_as_they_were_sealed():
    make_document("IPG909", chapters=2, recommendations=2)
    for model in ledger.history_models():
        attnames, hash_values = ledger.row_hasher(model)
        for values in model.objects.values(*attnames):
            row = tuple(values[name] for name in attnames)
            assert hash_values(row) == ledger.row_hash(model, values)


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="verification reads one snapshot on PostgreSQL; on SQLite a transaction held for "
    "the whole run would keep every writer waiting",
)
@pytest.mark.django_db(transaction=True)
def test_a_change_saved_while_verification_runs_is_not_taken_for_tampering():
    guidance = make_document("IPG950", chapters=1, recommendations=2)

    def an_editor_saves_a_change():
        try:
            with recording(reason="Reworded while the auditor verifies"):
                block = Block.objects.get(guidance=guidance, number="1.1")
                block.text = "Reworded recommendation."
                block.save()
        finally:
            connection.close()  # this thread's own connection

    class EditedMeanwhile(ledger.Verification):
        def _head_kept_outside(self):
            # After the chain is read and before the tables are: a change commits.
            editor = threading.Thread(target=an_editor_saves_a_change)
            editor.start()
            editor.join()
            yield from super()._head_kept_outside()

    assert list(EditedMeanwhile().problems()) == []
    assert Block.objects.get(guidance=guidance, number="1.1").text == "Reworded recommendation."
    ok, out, _ = verify()
    assert ok, out
