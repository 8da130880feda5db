"""Never a stale page, whichever process commits a change: two servers (gunicorn with two
workers, and runserver as `make run` serves) read the same page, a third process changes the
document, and both serve the change on the next request, with the production cache settings:
the database's cache table without Redis, and Redis."""

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from bench.serve import free_port
from tests.redis_server import own_redis

ROOT = Path(__file__).resolve().parent.parent
OVERVIEW = "/guidance/htg501/"
NEW_TITLE = "A title written by another process"
CHANGE = f"""
from guidance.history import recording
from guidance.models import Guidance
with recording(reason="Retitled from a shell"):
    document = Guidance.objects.get(reference="HTG501")
    document.title = "{NEW_TITLE}"
    document.save()
"""


def manage(environment, *arguments):
    subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=environment,
        check=True,
        capture_output=True,
    )


def base_environment(database_url):
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "DEBUG", "DATABASE_URL"}
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url,
        SECRET_KEY="processes-test-key-" + "x" * 40,
    )
    return environment


def postgres_server_settings():
    settings = connection.settings_dict
    return settings, {
        "host": settings["HOST"],
        "port": settings["PORT"] or 5432,
        "user": settings["USER"],
        "dbname": "postgres",
    }


@contextlib.contextmanager
def postgres_database(suffix, template=None):
    """A database named after the suite's, made afresh (from template, if given), dropped after;
    yields its name and URL."""
    settings, server = postgres_server_settings()
    name = f"{settings['NAME']}_{suffix}"
    with psycopg.connect(**server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield name, f"postgres://{settings['USER']}@{settings['HOST']}:{server['port']}/{name}"
    finally:
        with psycopg.connect(**server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate_and_load_samples(database_url):
    environment = base_environment(database_url)
    manage(environment, "migrate", "--noinput")
    manage(environment, "load_samples")


@pytest.fixture(scope="module")
def migrated_database(tmp_path_factory):
    """Migrated, with the samples, once for the module: each test serves a copy of its own.

    Its name on PostgreSQL, else the path of its SQLite file."""
    if connection.vendor != "postgresql":
        path = tmp_path_factory.mktemp("migrated") / "migrated.sqlite3"
        migrate_and_load_samples(f"sqlite:///{path}")
        yield path
        return
    with postgres_database("processes_template") as (name, url):
        migrate_and_load_samples(url)
        yield name


@pytest.fixture
def database_url(tmp_path, migrated_database):
    """A database of the test's own, migrated, with the samples: PostgreSQL when the suite runs
    on it, else an SQLite file."""
    if connection.vendor != "postgresql":
        path = tmp_path / "served.sqlite3"
        # SQLite's own copy: the template's last writes may still be in its write-ahead log.
        with (
            contextlib.closing(sqlite3.connect(migrated_database)) as source,
            contextlib.closing(sqlite3.connect(path)) as copy,
        ):
            source.backup(copy)
        yield f"sqlite:///{path}"
        return
    with postgres_database("processes", template=migrated_database) as (_name, url):
        yield url


@pytest.fixture(params=["database cache", "redis"])
def environment(request, database_url):
    environment = base_environment(database_url)
    if request.param == "redis":
        environment["REDIS_URL"] = own_redis(request).url
    return environment


@contextlib.contextmanager
def server(command, environment):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, *command(port)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/guidance/", timeout=30).close()
                break
            except OSError:  # not listening yet
                assert process.poll() is None, f"{command(port)} exited"
                assert time.monotonic() < deadline, f"{command(port)} did not answer"
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def gunicorn(port):
    return ["-m", "gunicorn", "-c", "config/gunicorn.py", "-w", "2", "-b", f"127.0.0.1:{port}"]


def runserver(port):
    return ["manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]


def page(base):
    with urllib.request.urlopen(base + OVERVIEW, timeout=30) as response:
        return response.read().decode()


def test_a_change_from_another_process_is_on_the_next_page_of_every_server(environment):
    with (
        server(gunicorn, environment | {"DEBUG": "0"}) as first,
        server(runserver, environment | {"DEBUG": "1"}) as second,
    ):
        # Both workers of gunicorn and runserver have served, and kept, the page.
        for base in (first, first, first, first, second, second):
            assert NEW_TITLE not in page(base)

        manage(environment, "shell", "-c", CHANGE)

        for base in (first, first, first, first, second, second):
            assert NEW_TITLE in page(base)

        # The background worker renders the page again; it is the changed page it keeps.
        manage(environment, "db_worker", "--batch")
        for base in (first, first, second):
            assert NEW_TITLE in page(base)
