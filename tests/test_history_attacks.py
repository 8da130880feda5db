"""A database superuser attacking history: each attack must be named by verify_history."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from guidance import ledger, proof, witness
from guidance.models import Block, ChangeSet, Guidance
from tests.factories import make_document, make_guidance
from tests.history_triggers import triggers_lifted

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger guard is PostgreSQL's"
)


def verify(*args):
    out = io.StringIO()
    try:
        call_command("verify_history", *args, stdout=out)
    except CommandError as error:
        return False, out.getvalue() + str(error)
    return True, out.getvalue()


def sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.fixture
def witness_file(settings, tmp_path, django_capture_on_commit_callbacks):
    """A witness file that every change committed in the test is appended to."""
    path = tmp_path / "witness"
    settings.HISTORY_WITNESS_FILE = str(path)

    def commit(write):
        with django_capture_on_commit_callbacks(execute=True):
            return write()

    commit.path = path
    return commit


def test_each_committed_change_appends_its_head_to_the_witness(witness_file):
    witness_file(lambda: make_guidance("HTG901"))
    witness_file(lambda: make_guidance("HTG902"))
    heads = witness.read_heads(witness_file.path)
    changes = ChangeSet.objects.order_by("-sequence")[:2]
    assert [(sequence, digest) for sequence, digest, _ in heads] == [
        (change.sequence, change.digest) for change in reversed(changes)
    ]
    assert witness_file.path.read_text().splitlines()[0].endswith("Z")
    ok, out = verify("--witness", str(witness_file.path))
    assert ok, out
    assert "2 witnessed heads" in out


def test_a_truncated_chain_fails_against_the_witness(witness_file):
    witness_file(lambda: make_guidance("HTG903"))
    guidance = witness_file(lambda: make_guidance("HTG904"))
    last = ChangeSet.objects.order_by("-sequence").first()
    with triggers_lifted(connection):
        sql("DELETE FROM guidance_historicalguidance WHERE change_set_id = %s", [last.pk.hex])
        sql("DELETE FROM guidance_guidance WHERE id = %s", [guidance.pk])
        sql("DELETE FROM guidance_changeset WHERE id = %s", [last.pk.hex])

    ok, out = verify("--witness", str(witness_file.path))
    assert not ok
    assert f"guidance_changeset {last.sequence}: witnessed head (line 2) is no longer" in out
    assert "truncated" in out


def reseal_everything(private_key):
    """Recompute every row hash, digest and signature, as someone holding the key could."""
    previous = proof.GENESIS
    for change in ChangeSet.objects.order_by("sequence"):
        hashes = {}
        for model, values in ledger.rows_of_change(change.id):
            table = model._meta.db_table
            fields = proof.sealed_fields(change.format, change.row_fields, table)
            hashes.setdefault(table, {})[str(values["history_id"])] = ledger.row_hash(
                model, values, fields
            )
        change.previous_digest = previous
        change.row_hashes = hashes
        change.digest = ledger.expected_digest(change)
        if change.format in proof.SIGNED_FORMATS:
            change.signature = proof.sign(private_key, change.digest)
        sql(
            "UPDATE guidance_changeset SET previous_digest = %s, row_hashes = %s, digest = %s, "
            "signature = %s WHERE id = %s",
            [
                change.previous_digest,
                json.dumps(hashes),
                change.digest,
                change.signature,
                change.pk.hex,
            ],
        )
        previous = change.digest


def test_a_chain_resealed_with_a_leaked_key_fails_against_the_witness(witness_file, settings):
    guidance = witness_file(lambda: make_document("HTG905", chapters=1, recommendations=1))
    block = Block.history.filter(guidance_id=guidance.pk, number="1.1").get()
    with triggers_lifted(connection):
        sql(
            "UPDATE guidance_historicalblock SET text = %s WHERE history_id = %s",
            ["Should not be used.", block.history_id],
        )
        sql("UPDATE guidance_block SET text = %s WHERE id = %s", ["Should not be used.", block.id])
        # The key leaked after the head was witnessed: the whole chain is resealed with it.
        reseal_everything(ledger.signing_key())

    settings.HISTORY_WITNESS_FILE = ""
    ok, out = verify()
    assert ok, "without the witness, a full reseal with the key is invisible: " + out
    ok, out = verify("--witness", str(witness_file.path))
    assert not ok
    assert "witnessed head (line 2) had digest" in out  # the change that wrote the block
    assert "resealed" in out


def test_a_malformed_witness_is_refused_naming_the_line(tmp_path):
    path = tmp_path / "witness"
    path.write_text("12:" + "a" * 64 + "\nlatest\n")
    with pytest.raises(CommandError, match=r"line 2: 'latest' is not SEQUENCE:DIGEST"):
        call_command("verify_history", "--witness", str(path), stdout=io.StringIO())


@on_postgresql
def test_triggers_fire_in_a_replication_session():
    guidance = make_guidance("HTG906", title="Original title")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        sql("SET LOCAL session_replication_role = replica")
        sql("UPDATE guidance_historicalguidance SET title = 'Forged' WHERE id = %s", [guidance.pk])
    assert guidance.history.get().title == "Original title"


@on_postgresql
@pytest.mark.parametrize(
    ("alteration", "named"),
    [
        ("ENABLE REPLICA TRIGGER guidance_append_only", "fires only in replication sessions"),
        ("ENABLE TRIGGER guidance_append_only", "session_replication_role = replica"),
        ("DISABLE TRIGGER guidance_append_only_truncate", "is disabled"),
    ],
)
def test_a_trigger_not_enabled_for_every_session_is_named(alteration, named):
    make_guidance("HTG907")
    sql("SET CONSTRAINTS ALL IMMEDIATE")
    sql(f"ALTER TABLE guidance_historicalguidance {alteration}")

    ok, out = verify()
    assert not ok
    assert "guidance_historicalguidance -: the append-only trigger guidance_append_only" in out
    assert named in out


@on_postgresql
def test_a_replaced_trigger_function_is_named():
    guidance = make_guidance("HTG908", title="Original title")
    sql(
        "CREATE OR REPLACE FUNCTION guidance_append_only_refuse() RETURNS trigger AS $$ "
        "BEGIN IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END; $$ "
        "LANGUAGE plpgsql"
    )
    sql("UPDATE guidance_historicalguidance SET title = 'Forged' WHERE id = %s", [guidance.pk])

    ok, out = verify()
    assert not ok
    assert "the trigger function guidance_append_only_refuse() was replaced" in out
    assert "changed content" in out


@on_postgresql
def test_a_trigger_pointed_at_another_function_is_named():
    make_guidance("HTG909")
    sql(
        "CREATE FUNCTION let_it_through() RETURNS trigger AS $$ BEGIN RETURN NEW; END; $$ "
        "LANGUAGE plpgsql"
    )
    sql("SET CONSTRAINTS ALL IMMEDIATE")
    sql("DROP TRIGGER guidance_append_only ON guidance_changeset")
    sql(
        "CREATE TRIGGER guidance_append_only BEFORE UPDATE OR DELETE ON guidance_changeset "
        "FOR EACH ROW EXECUTE FUNCTION let_it_through()"
    )
    sql("ALTER TABLE guidance_changeset ENABLE ALWAYS TRIGGER guidance_append_only")

    ok, out = verify()
    assert not ok
    assert "guidance_changeset -: the append-only trigger guidance_append_only was redefined" in out


@on_postgresql
def test_verification_of_an_intact_database_names_no_trigger():
    make_guidance("HTG910")
    assert ledger.append_only_problems(connection, ledger.append_only_tables()) == []
    assert Guidance.objects.filter(reference="HTG910").exists()
