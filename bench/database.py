"""Where the benchmark keeps its data set, and how a run gets a fresh copy of it.

The generated data set is kept (a SQLite file under bench/out, or the PostgreSQL database
``guidance_bench`` on the server DATABASE_URL names) with a fingerprint of what made it: the
code that writes and hashes history, DATA_SET_VERSION, the size asked for, and each migration
file it was migrated with. A run reuses it when all of these are unchanged, applying any
migration added since (history rows hash only non-empty values, so a column added later leaves
them valid); a changed migration file means generating it again. Each run works on a copy, so
the workflows it times (imports, a bulk migration) never change the kept data set.
"""

import ast
import hashlib
import json
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
# Raise when bench/generate.py changes the shape of the data, so kept data sets are made again.
DATA_SET_VERSION = 2
HISTORY = ROOT / "guidance" / "history.py"
LEDGER = ROOT / "guidance" / "ledger.py"
# What decides the hashes a change stores; the rest of the ledger only reads them.
SEALING = {
    "GENESIS",
    "CHANGE_FIELDS",
    "_plain",
    "_hash_content",
    "row_hash",
    "change_hash",
    "change_digest",
    "rows_of_change",
    "seal",
}


def migration_files():
    """{file name: SHA-256} of the app's migrations."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((ROOT / "guidance" / "migrations").glob("0*.py"))
    }


def fingerprint(**parameters):
    """What the kept data set depends on: the schema, how history is written, its shape."""
    parameters = {**parameters, "generator": DATA_SET_VERSION}
    digest = hashlib.sha256(json.dumps(parameters, sort_keys=True).encode())
    digest.update(HISTORY.read_bytes())
    ledger = LEDGER.read_text()
    for node in ast.parse(ledger).body:
        names = {getattr(node, "name", None)} | {
            getattr(target, "id", None) for target in getattr(node, "targets", [])
        }
        if names & SEALING:
            digest.update(ast.get_source_segment(ledger, node).encode())
    return digest.hexdigest()


@dataclass
class Store:
    """The kept data set and the working copy a run serves and changes."""

    vendor: str
    kept_url: str
    work_url: str
    kept_name: str
    work_name: str
    admin_url: str = ""

    @classmethod
    def from_environment(cls, database_url):
        if database_url and database_url.startswith(("postgres://", "postgresql://")):
            parts = urllib.parse.urlsplit(database_url)

            def named(name):
                return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))

            # A database named other than the server's own keeps the data set, so that runs
            # against one server from different checkouts do not share it.
            kept = parts.path.strip("/")
            kept = "guidance_bench" if kept in ("", "postgres") else kept
            return cls(
                vendor="postgresql",
                kept_url=named(kept),
                work_url=named(f"{kept}_run"),
                kept_name=kept,
                work_name=f"{kept}_run",
                admin_url=named("postgres"),
            )
        if database_url and not database_url.startswith("sqlite:"):
            raise SystemExit(f"DATABASE_URL={database_url!r}: use a postgres:// URL or none.")
        kept, work = OUT / "bench.sqlite3", OUT / "bench-run.sqlite3"
        return cls(
            vendor="sqlite",
            kept_url=f"sqlite:///{kept}",
            work_url=f"sqlite:///{work}",
            kept_name=str(kept),
            work_name=str(work),
        )

    @property
    def stamp_path(self):
        return OUT / f"dataset-{self.vendor}.json"

    def kept_generation(self, expected_fingerprint):
        """What the kept data set's generation reported, if it is there and still current."""
        if not self.stamp_path.exists() or not self._kept_exists():
            return None
        stamp = json.loads(self.stamp_path.read_text())
        if stamp.get("fingerprint") != expected_fingerprint:
            return None
        current = migration_files()
        kept = stamp.get("migrations", {})
        if any(current.get(name) != digest for name, digest in kept.items()):
            return None
        return stamp

    def remember(self, stamp):
        """Record the kept data set, with the migrations it now has."""
        stamp = {**stamp, "migrations": migration_files()}
        self.stamp_path.write_text(json.dumps(stamp, indent=2))

    def forget(self):
        self.stamp_path.unlink(missing_ok=True)

    def _kept_exists(self):
        if self.vendor == "sqlite":
            return Path(self.kept_name).exists()
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            found = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [self.kept_name]
            ).fetchone()
        return found is not None

    def empty_kept(self):
        """Start the kept data set again from an empty database."""
        self.forget()
        if self.vendor == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(self.kept_name + suffix).unlink(missing_ok=True)
            return
        self._recreate(self.kept_name)

    def copy_for_run(self):
        """Give the run its own copy of the kept data set."""
        if self.vendor == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(self.work_name + suffix).unlink(missing_ok=True)
            # The backup API copies a consistent snapshot, WAL included.
            with sqlite3.connect(self.kept_name) as source, sqlite3.connect(self.work_name) as copy:
                source.backup(copy)
            return
        self._recreate(self.work_name, template=self.kept_name)

    def drop_copy(self):
        if self.vendor == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(self.work_name + suffix).unlink(missing_ok=True)
            return
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.work_name}" WITH (FORCE)')

    def size_bytes(self, which="kept"):
        name = self.kept_name if which == "kept" else self.work_name
        if self.vendor == "sqlite":
            return Path(name).stat().st_size
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            return connection.execute("SELECT pg_database_size(%s)", [name]).fetchone()[0]

    def _recreate(self, name, template=None):
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if template:
                connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            else:
                connection.execute(f'CREATE DATABASE "{name}"')
