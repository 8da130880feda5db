"""Test-only: lift the append-only triggers the way a database superuser could.

The test database is emptied between transactional tests with DELETE (SQLite) or TRUNCATE
(PostgreSQL), which the triggers refuse. Only that flush, and tests that play a superuser
tampering with history, run with the triggers lifted, inside one transaction, so that the
triggers are back in force whatever happens.
"""

import contextlib

import pytest
from django.db import transaction
from django.db.backends.base.operations import BaseDatabaseOperations

from guidance import ledger


@contextlib.contextmanager
def triggers_lifted(connection):
    """Run a block with the append-only triggers off, in a transaction of its own."""
    tables = ledger.append_only_tables()
    quote = connection.ops.quote_name
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ALTER TABLE refuses to run while deferred foreign-key checks are pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in tables:
                cursor.execute(f"ALTER TABLE {quote(table)} DISABLE TRIGGER USER")
            yield
            for table in tables:
                for name in (ledger.TRIGGER_PREFIX, f"{ledger.TRIGGER_PREFIX}_truncate"):
                    cursor.execute(f"ALTER TABLE {quote(table)} ENABLE ALWAYS TRIGGER {name}")
        else:
            ledger.remove_append_only(connection, tables)
            yield
            ledger.install_append_only(connection, tables)


@pytest.fixture(autouse=True, scope="session")
def flush_lifts_history_triggers():
    original = BaseDatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        with triggers_lifted(self.connection):
            original(self, sql_list)

    BaseDatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    BaseDatabaseOperations.execute_sql_flush = original
