"""The backup and restore drill: pg_dump, pg_restore, and the restored history still verifies.

The drill an operator runs, as the README gives it: keep the chain head, dump, restore into an
empty database, and check with verify_history --expect-head that the restored history verifies
and still holds the head kept before the backup.
"""

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from guidance.ledger import chain_head
from tests.factories import make_document

ROOT = Path(settings.BASE_DIR)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the drill uses pg_dump and pg_restore"
    ),
    pytest.mark.skipif(shutil.which("pg_dump") is None, reason="needs pg_dump and pg_restore"),
]


def database_url(name):
    config = connection.settings_dict
    host = config["HOST"] or "127.0.0.1"
    port = config["PORT"] or 5432
    return f"postgres://{config['USER']}@{host}:{port}/{name}"


def run(*command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=120, **kwargs)


@pytest.fixture
def restored_database():
    name = f"{connection.settings_dict['NAME']}_restored_{uuid.uuid4().hex[:8]}"
    yield name
    run("dropdb", "--if-exists", "--force", "-h", "127.0.0.1", "-U", "postgres", name)


def test_a_restored_backup_verifies_and_holds_the_head_kept_before_it(tmp_path, restored_database):
    make_document("HTG950", chapters=2, recommendations=3)
    make_document("HTG951", chapters=1, recommendations=1)
    head = chain_head()
    kept_head = f"{head.sequence}:{head.digest}"
    dump = tmp_path / "guidance.dump"
    source = connection.settings_dict["NAME"]

    dumped = run("pg_dump", "--format=custom", "--file", str(dump), database_url(source))
    assert dumped.returncode == 0, dumped.stderr
    created = run("createdb", "-h", "127.0.0.1", "-U", "postgres", restored_database)
    assert created.returncode == 0, created.stderr
    restored = run(
        "pg_restore", "--no-owner", "--dbname", database_url(restored_database), str(dump)
    )
    assert restored.returncode == 0, restored.stderr

    environment = {**os.environ, "DATABASE_URL": database_url(restored_database)}
    verified = run(
        sys.executable,
        "manage.py",
        "verify_history",
        "--expect-head",
        kept_head,
        cwd=ROOT,
        env=environment,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "History verifies: no problems found." in verified.stdout
    assert f"Chain head: {kept_head}" in verified.stdout
