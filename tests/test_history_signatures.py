import datetime
import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection, models

from guidance import ledger, proof
from guidance.history import recording
from guidance.models import ChangeSet, Guidance, Programme
from tests.factories import make_document, make_guidance, make_user

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[1]


def verify(*args):
    out = io.StringIO()
    try:
        call_command("verify_history", *args, stdout=out)
    except CommandError as error:
        return False, out.getvalue() + str(error)
    return True, out.getvalue()


def kept_head():
    head = ChangeSet.objects.order_by("-sequence").first()
    return f"{head.sequence}:{head.digest}"


def forge_change(guidance, *, title, created_at, private_key=None, change_format=2):
    """Chain a change after the head with the project's own hash functions, as an attacker with
    the database (but not the signing key) could: a history row, the change, the live row."""
    editor = make_user("editor")
    head = ChangeSet.objects.order_by("-sequence").first()
    change = ChangeSet(
        id=uuid.uuid4(),
        created_at=created_at,
        user=editor,
        reason="Typo fix",
        source=ChangeSet.Source.ADMIN,
        guidance=guidance,
        sequence=head.sequence + 1,
        previous_digest=head.digest,
        format=change_format,
        username="editor",
    )
    row = guidance.history.order_by("-history_id").first()
    row.history_id = None
    row.title = title
    row.history_type = "~"
    row.history_date = created_at
    row.change_set_id = change.id
    Guidance.history.model.objects.bulk_create([row])
    row = Guidance.history.get(change_set_id=change.id)
    model = Guidance.history.model
    fields = ledger.current_fields(model)
    change.row_fields = {model._meta.db_table: fields} if change_format == 2 else {}
    values = {name: getattr(row, name) for name in fields}
    change.row_hashes = {
        model._meta.db_table: {str(row.history_id): ledger.row_hash(model, values, fields)}
    }
    if private_key is not None:
        change.key_id = proof.key_id(private_key.public_key())
    change.digest = ledger.expected_digest(change)
    if private_key is not None:
        change.signature = proof.sign(private_key, change.digest)
    ChangeSet.objects.bulk_create([change])
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE guidance_guidance SET title = %s WHERE id = %s", [title, guidance.pk]
        )
    return change


def test_every_change_is_signed_with_the_configured_key():
    make_guidance("HTG801")
    change = ChangeSet.objects.order_by("-sequence").first()
    public_key = ledger.signing_key().public_key()
    assert change.format == proof.CURRENT_FORMAT
    assert change.key_id == proof.key_id(public_key)
    assert proof.signature_is_valid(public_key, change.digest, change.signature)
    assert verify()[0]


def test_a_change_forged_after_the_kept_head_without_the_key_is_named_as_forged():
    guidance = make_guidance("HTG802")
    head = kept_head()
    forged = forge_change(
        guidance, title="Forged title", created_at=datetime.datetime.now(datetime.UTC)
    )

    ok, out = verify("--expect-head", head)
    assert not ok
    assert f"guidance_changeset {forged.sequence}: forged: signed by key (none)" in out


def test_a_change_signed_with_another_key_is_named_as_forged():
    guidance = make_guidance("HTG803")
    attacker_key = proof.load_private_key(proof.new_private_key_pem(), "attacker")
    forged = forge_change(
        guidance,
        title="Forged title",
        created_at=datetime.datetime.now(datetime.UTC),
        private_key=attacker_key,
    )

    ok, out = verify()
    assert not ok
    assert (
        f"guidance_changeset {forged.sequence}: forged: signed by key "
        f"{proof.key_id(attacker_key.public_key())}, which is not one of the public keys" in out
    )


def test_an_unsigned_change_cannot_pass_for_one_sealed_before_signing():
    guidance = make_guidance("HTG804")
    forged = forge_change(
        guidance,
        title="Forged title",
        created_at=datetime.datetime.now(datetime.UTC),
        change_format=proof.LEGACY_FORMAT,
    )

    ok, out = verify()
    assert not ok
    assert f"guidance_changeset {forged.sequence}: forged: sealed without the key" in out


def test_a_back_dated_change_is_named_even_with_the_key(settings):
    guidance = make_guidance("HTG805")
    forged = forge_change(
        guidance,
        title="Typo fix",
        created_at=datetime.datetime(2026, 11, 1, 9, tzinfo=datetime.UTC),
        private_key=ledger.signing_key(),
    )

    ok, out = verify()
    assert not ok
    assert f"guidance_changeset {forged.sequence}: time goes backwards" in out


def test_changes_are_sealed_in_the_order_of_their_times():
    for number in range(5):
        make_guidance(f"HTG81{number}")
    times = list(ChangeSet.objects.order_by("sequence").values_list("created_at", flat=True))
    assert times == sorted(times)
    assert list(ChangeSet.objects.all()) == list(ChangeSet.objects.order_by("-sequence"))


def test_an_old_key_stays_valid_for_what_it_signed(settings, tmp_path):
    make_guidance("HTG806")
    old_key = ledger.signing_key()
    new_key_file = tmp_path / "new-key.pem"
    new_key_file.write_text(proof.new_private_key_pem())
    settings.HISTORY_SIGNING_KEY_FILE = str(new_key_file)
    make_guidance("HTG807")
    assert ChangeSet.objects.order_by("-sequence").first().key_id != proof.key_id(
        old_key.public_key()
    )

    ok, out = verify()
    assert not ok, "without the old public key, what it signed cannot be checked"
    assert f"signed by key {proof.key_id(old_key.public_key())}" in out

    old_public = tmp_path / "old-public-keys.pem"
    old_public.write_text(proof.public_pem(old_key.public_key()))
    settings.HISTORY_PUBLIC_KEYS_FILE = str(old_public)
    ok, out = verify()
    assert ok, out


def test_nothing_is_recorded_without_a_signing_key(settings, tmp_path):
    settings.HISTORY_SIGNING_KEY_FILE = str(tmp_path / "absent.pem")
    with pytest.raises(ledger.NoSigningKey, match="HISTORY_SIGNING_KEY_FILE"):
        make_guidance("HTG808")
    assert not Guidance.objects.filter(reference="HTG808").exists()


def deploy_check(**variables):
    env = {k: v for k, v in os.environ.items() if k not in {"HISTORY_SIGNING_KEY_FILE"}}
    env.update(variables, HTTPS="1", ALLOWED_HOSTS="guidance.example.org", DEBUG="0")
    env.setdefault("SECRET_KEY", "deploy-check-" + "k" * 50)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--tag", "security"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_the_deploy_check_refuses_the_development_signing_key_and_passes_a_production_one(
    tmp_path,
):
    result = deploy_check()
    assert result.returncode != 0
    assert "guidance.E003" in result.stderr

    key_file = tmp_path / "production-key.pem"
    call_command("make_signing_key", str(key_file), stdout=io.StringIO())
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    result = deploy_check(HISTORY_SIGNING_KEY_FILE=str(key_file))
    assert "guidance.E003" not in result.stderr
    assert "guidance.E004" not in result.stderr


def add_column(model, name, field):
    """Add a column to a tracked model and its history table, as a migration would."""
    history_model = model.history.model
    history_field = field.clone()
    field.contribute_to_class(model, name)
    history_field.contribute_to_class(history_model, name)
    apps.clear_cache()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no ALTER with checks pending
        # What a migration adding a field with a default runs (the test's transaction undoes it).
        for table in (model._meta.db_table, history_model._meta.db_table):
            cursor.execute(
                f"ALTER TABLE {quote(table)} ADD COLUMN {quote(name)} varchar(20) "
                f"DEFAULT '{field.default}' NOT NULL"
            )
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # as Django's constraints are
    return [(model, field), (history_model, history_field)]


def forget_columns(added):
    # The test's transaction rolls the columns back; the model classes must forget them too.
    for model, field in added:
        model._meta.local_fields.remove(field)
        delattr(model, field.attname)
    apps.clear_cache()


def test_history_sealed_before_a_column_was_added_still_verifies():
    guidance = make_document("HTG809", chapters=1, recommendations=1)
    legacy = ChangeSet.objects.filter(format=proof.LEGACY_FORMAT)
    assert legacy.exists(), "migration 0002 recorded the programmes before signing existed"
    added = add_column(
        Guidance,
        "audience",
        models.CharField(max_length=20, default="everyone"),
    ) + add_column(
        Programme,
        "colour",
        models.CharField(max_length=20, default="teal"),
    )
    try:
        assert Guidance.history.filter(id=guidance.pk).get().audience == "everyone"
        ok, out = verify()
        assert ok, out

        with recording(reason="Written for clinicians"):
            guidance.refresh_from_db()
            guidance.audience = "clinicians"
            guidance.save()
        change = ChangeSet.objects.order_by("-sequence").first()
        assert "audience" in change.row_fields["guidance_historicalguidance"]
        ok, out = verify()
        assert ok, out

        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE guidance_guidance SET audience = 'public' WHERE id = %s", [guidance.pk]
            )
        ok, out = verify()
        assert not ok
        assert f"guidance_guidance {guidance.pk}: live row differs" in out
        assert "in audience" in out
    finally:
        forget_columns(added)
