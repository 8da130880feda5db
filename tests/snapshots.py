"""Every row of every table, to show that a failed workflow changed nothing."""

from django.db import connection

# Sessions change with every sign-in, whatever the workflow does.
SKIPPED = {"django_session"}


def all_rows():
    snapshot = {}
    with connection.cursor() as cursor:
        for table in sorted(set(connection.introspection.table_names()) - SKIPPED):
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the schema
            snapshot[table] = sorted(map(repr, cursor.fetchall()))
    return snapshot
