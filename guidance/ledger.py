"""Tamper evidence for history: each change's rows are hashed and chained to the change before.

A ChangeSet stores the SHA-256 of each of its history rows (``row_hashes``) and a digest
over them and the previous change's digest. Rewriting, removing or adding a history row
afterwards breaks a row hash or the chain, and ``verify_history`` says where.
"""

import datetime
import decimal
import hashlib
import json
import uuid

from django.apps import apps
from django.db import connection

GENESIS = "0" * 64


def history_models():
    """Every historical model of the app, in a stable order."""
    return sorted(
        (
            model
            for model in apps.get_app_config("guidance").get_models()
            if model.__name__.startswith("Historical")
        ),
        key=lambda model: model._meta.db_table,
    )


def _plain(value):
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def row_hash(model, values):
    """Hash one history row from its column values (a dict keyed by attname).

    Empty values are left out, so that a nullable column added to a history table later
    does not change the hash of the rows written before it.
    """
    content = {
        field.attname: _plain(values[field.attname])
        for field in model._meta.concrete_fields
        if values[field.attname] not in (None, "")
    }
    encoded = json.dumps(
        [model._meta.db_table, content], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(encoded.encode()).hexdigest()


def change_digest(previous_digest, change_set_id, row_hashes):
    """Chain a change to the one before it, over every row hash it holds."""
    digest = hashlib.sha256(f"{previous_digest}:{uuid.UUID(str(change_set_id)).hex}".encode())
    for table in sorted(row_hashes):
        for history_id, value in sorted(row_hashes[table].items(), key=lambda item: int(item[0])):
            digest.update(f":{table}:{history_id}:{value}".encode())
    return digest.hexdigest()


def _lock_chain():
    # Two changes committing at once must not both chain to the same predecessor.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(727274)")


def rows_of_change(change_set_id, models=None):
    """Yield (model, values) for every history row of one change."""
    for model in models or history_models():
        attnames = [field.attname for field in model._meta.concrete_fields]
        for values in model.objects.filter(change_set_id=change_set_id).values(*attnames):
            yield model, values


def seal(change_set, models=None):
    """Fill the change's row hashes, sequence and digest, chained to the latest change."""
    change_set_model = type(change_set)
    _lock_chain()
    hashes = {}
    for model, values in rows_of_change(change_set.id, models):
        table = hashes.setdefault(model._meta.db_table, {})
        table[str(values["history_id"])] = row_hash(model, values)
    latest = change_set_model.objects.order_by("-sequence").only("sequence", "digest").first()
    change_set.sequence = latest.sequence + 1 if latest else 1
    change_set.previous_digest = latest.digest if latest else GENESIS
    change_set.row_hashes = hashes
    change_set.digest = change_digest(change_set.previous_digest, change_set.id, hashes)
