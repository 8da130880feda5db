import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from guidance import proof
from guidance.audit import evidence, trail
from guidance.history import recording
from guidance.models import Block, Endorsement, RelationType
from tests.factories import make_document, make_endorsement, make_relation, make_user

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[1]


def auditor():
    return make_user("auditor", groups=["Auditors"])


def reworded_document():
    editor = make_user("erin", first_name="Erin", last_name="Hale")
    guidance = make_document("HTG950", chapters=1, recommendations=1, user=editor)
    with recording(user=editor, reason="Reworded 1.1", guidance=guidance):
        block = Block.objects.get(guidance=guidance, number="1.1")
        block.text = "Should only be used in research."
        block.save()
    return guidance


def download(client, reference="htg950", **period):
    client.force_login(auditor())
    return client.get(reverse("audit:evidence", args=[reference]), period)


def verify_without_a_database(path, *arguments):
    """Run verify_evidence as a separate process whose database cannot be reached."""
    env = dict(os.environ, DATABASE_URL="postgres://nobody@127.0.0.1:9/no_database")
    return subprocess.run(
        [sys.executable, "manage.py", "verify_evidence", str(path), *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_auditor_downloads_a_pack_that_nothing_keeps(client):
    reworded_document()
    response = download(client, **{"from": "2020-01-01", "to": "2099-12-31"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert 'filename="HTG950-evidence.zip"' in response["Content-Disposition"]
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= cache_control
    pack = zipfile.ZipFile(io.BytesIO(response.content))

    timeline = list(csv.DictReader(io.StringIO(pack.read("timeline.csv").decode())))
    assert [row["reason"] for row in timeline][-1] == "Reworded 1.1"
    assert timeline[-1]["username"] == "erin"
    assert timeline[-1]["recorded at (UTC)"].endswith("+00:00")
    assert timeline[-1]["took effect (UTC)"].endswith("+00:00")
    assert timeline[-1]["effective precision"] == "exact"
    last = int(timeline[-1]["sequence"])
    diff = pack.read(f"changes/{last:08d}/diff.txt").decode()
    assert "after:  Should only be used in research." in diff
    assert " UTC" in diff
    assert "Should only be used in research." in pack.read(f"changes/{last:08d}/after.txt").decode()
    assert "Should only be used in research." not in (
        pack.read(f"changes/{last:08d}/before.txt").decode()
    )


def test_the_pack_is_for_auditors_only(client):
    reworded_document()
    client.force_login(make_user("editor", groups=["Editors"]))
    assert client.get(reverse("audit:evidence", args=["htg950"])).status_code == 403


def test_a_period_with_its_start_after_its_end_is_refused(client):
    reworded_document()
    response = download(client, **{"from": "2026-12-03", "to": "2026-01-01"})
    assert response.status_code == 400
    assert "starts after it ends" in response.content.decode()


@pytest.fixture
def pack_file(client, tmp_path):
    reworded_document()
    path = tmp_path / "HTG950-evidence.zip"
    call_command("evidence_pack", "HTG950", "--output", str(path), stdout=io.StringIO())
    return path


def test_a_pack_verifies_on_a_machine_without_the_database(pack_file):
    result = verify_without_a_database(pack_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The evidence pack verifies" in result.stdout


def rewrite(path, name, change):
    """Rewrite one file of a pack, and its line in the manifest, as a forger would."""
    with zipfile.ZipFile(path) as pack:
        files = {item: pack.read(item) for item in pack.namelist()}
    files[name] = change(files[name])
    manifest = json.loads(files["manifest.json"])
    manifest["files"][name] = hashlib.sha256(files[name]).hexdigest()
    files["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as pack:
        for item, content in files.items():
            pack.writestr(item, content)


def test_a_row_altered_in_the_pack_is_named(pack_file):
    def alter(content):
        rows = json.loads(content)
        for tables in rows.values():
            for row in tables.get("guidance_historicalblock", []):
                row["text"] = row["text"].replace("research", "routine use")
        return json.dumps(rows).encode()

    rewrite(pack_file, "history_rows.json", alter)
    result = verify_without_a_database(pack_file)
    assert result.returncode != 0
    assert "guidance_historicalblock row" in result.stdout
    assert "does not match the hash it was sealed with" in result.stdout


def test_a_pack_signed_by_another_key_fails_against_the_published_key(pack_file, tmp_path):
    other = tmp_path / "other-public.pem"
    other_key = proof.load_private_key(proof.new_private_key_pem(), "other")
    other.write_text(proof.public_pem(other_key.public_key()))
    result = verify_without_a_database(pack_file, "--public-key", str(other))
    assert result.returncode != 0
    assert "not a known key" in result.stdout


def reworded_times(guidance, times):
    for n in range(times):
        with recording(reason=f"Rewording {n}", guidance=guidance):
            block = Block.objects.get(guidance=guidance, number="1.1")
            block.text = f"Wording {n}."
            block.save()


def test_a_pack_reads_history_in_as_many_queries_for_twelve_changes_as_for_two():
    few, many = make_document("HTG951", chapters=1), make_document("HTG952", chapters=1)
    reworded_times(few, 2)
    reworded_times(many, 12)
    queries = {}
    for guidance in (few, many):
        with CaptureQueriesContext(connection) as captured:
            evidence.build_pack(guidance)
        queries[guidance.reference] = len(captured)
    assert queries["HTG952"] == queries["HTG951"]


def test_each_change_shows_the_document_as_the_database_rebuilds_it_at_that_moment(as_editor):
    """What the pack reads once and replays is what as_it_stood reads at each moment, with
    changes to related documents, endorsements and the programme between the document's own."""
    guidance = make_document("HTG953", chapters=2)
    reworded_times(guidance, 2)
    make_relation(make_document("IPG954", chapters=1), RelationType.MIGRATED_TO, guidance)
    make_endorsement(guidance)
    reworded_times(guidance, 1)
    with as_editor("The programme is renamed"):
        programme = guidance.programme
        programme.name = "HealthTech guidance, renamed"
        programme.save()
    with as_editor("Endorsed again"):
        Endorsement.objects.filter(guidance=guidance).delete()
    reworded_times(guidance, 1)

    pack = zipfile.ZipFile(io.BytesIO(evidence.build_pack(guidance)))
    changes = evidence.period_changes(guidance)
    assert len(changes) >= 8
    for change in changes:
        folder = f"changes/{change.sequence:08d}"
        for name, inclusive in (("before", False), ("after", True)):
            moment = trail.Moment(change.created_at, inclusive=inclusive, change=change)
            expected = evidence.document_text(trail.as_it_stood(guidance.pk, moment))
            assert pack.read(f"{folder}/{name}.txt").decode() == expected, (folder, name)
