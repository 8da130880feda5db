import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from guidance import ledger
from guidance.ledger import UserDeletionRefused
from guidance.models import Block, ChangeSet, Guidance
from tests.factories import make_document, make_guidance, make_user

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="TRUNCATE triggers exist only on PostgreSQL"
)


def raw(sql, params=()):
    # A savepoint of its own, so that a refused statement leaves the test usable.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def history_table(model):
    return connection.ops.quote_name(model.history.model._meta.db_table)


def test_every_history_table_and_the_change_table_refuse_rewrites():
    tables = ledger.append_only_tables()
    assert "guidance_changeset" in tables
    assert "guidance_historicalblock" in tables
    assert ledger.tables_missing_append_only(connection, tables) == []


def test_raw_sql_cannot_update_a_history_row():
    guidance = make_guidance("IPG800", title="Original title")
    with pytest.raises(IntegrityError, match="append-only"):
        raw(
            f"UPDATE {history_table(Guidance)} SET title = %s WHERE id = %s",
            ["Forged", guidance.pk],
        )
    assert guidance.history.get().title == "Original title"


def test_raw_sql_cannot_delete_a_history_row():
    guidance = make_document("IPG801", chapters=1, recommendations=1)
    with pytest.raises(IntegrityError, match="append-only"):
        raw(f"DELETE FROM {history_table(Block)} WHERE guidance_id = %s", [guidance.pk])
    assert Block.history.filter(guidance_id=guidance.pk).count() == 1


def test_raw_sql_cannot_rewrite_or_remove_a_change():
    make_guidance("IPG802")
    change = ChangeSet.objects.order_by("-sequence").first()
    with pytest.raises(IntegrityError, match="append-only"):
        raw("UPDATE guidance_changeset SET reason = %s WHERE id = %s", ["Nothing", change.pk.hex])
    with pytest.raises(IntegrityError, match="append-only"):
        raw("DELETE FROM guidance_changeset WHERE id = %s", [change.pk.hex])
    assert ChangeSet.objects.get(pk=change.pk).reason == "Test data"


def test_the_orm_cannot_bulk_rewrite_history_either():
    guidance = make_guidance("IPG803")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        Guidance.history.filter(id=guidance.pk).update(title="Forged")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        Guidance.history.filter(id=guidance.pk).delete()
    assert Guidance.history.filter(id=guidance.pk, title="Forged").count() == 0


def test_new_history_rows_are_still_written():
    guidance = make_guidance("IPG804")
    assert guidance.history.count() == 1


@on_postgresql
def test_raw_sql_cannot_truncate_history_on_postgresql():
    make_guidance("IPG805")
    raw("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE waits for no deferred checks
    with pytest.raises(IntegrityError, match="append-only"):
        raw(f"TRUNCATE {history_table(Guidance)}")
    with pytest.raises(IntegrityError, match="append-only"):
        raw("TRUNCATE guidance_changeset CASCADE")
    assert Guidance.history.filter(id__isnull=False).exists()


@pytest.mark.django_db(transaction=True)
def test_history_written_in_a_committed_transaction_is_protected_too():
    # Committed for real (not rolled back): the suite's own flush afterwards must still work.
    guidance = make_guidance("IPG806")
    with pytest.raises(IntegrityError, match="append-only"):
        raw(f"DELETE FROM {history_table(Guidance)} WHERE id = %s", [guidance.pk])
    assert guidance.history.count() == 1


def test_a_user_is_deactivated_never_deleted():
    user = make_user("editor-who-left")
    with (
        pytest.raises(UserDeletionRefused, match="Deactivate the account instead"),
        transaction.atomic(),
    ):
        user.delete()
    with pytest.raises(UserDeletionRefused), transaction.atomic():
        get_user_model().objects.filter(pk=user.pk).delete()
    assert get_user_model().objects.filter(pk=user.pk).exists()


def test_a_user_named_by_history_cannot_be_deleted():
    user = make_user("editor-with-history")
    make_guidance("IPG807", user=user)
    with pytest.raises(ProtectedError, match="ChangeSet.user"), transaction.atomic():
        user.delete()
    assert ChangeSet.objects.filter(user=user).exists()
