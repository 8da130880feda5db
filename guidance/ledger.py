"""Tamper evidence for history: each change's rows are hashed and chained to the change before.

A ChangeSet stores the SHA-256 of each of its history rows (``row_hashes``) and a digest
over them, over who, when and why, and over the previous change's digest. Rewriting,
removing or adding a history row or a change afterwards breaks a row hash or the chain,
and ``verify_history`` says where.

The database refuses to rewrite history in the first place: every history table and the
change table carry triggers that refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).

The hash formats below are a contract with every digest already stored: change them and
every existing chain stops verifying.
"""

import contextlib
import datetime
import decimal
import hashlib
import json
import operator
import uuid

from django.apps import apps
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection as default_connection
from django.db import transaction
from django.db.models.signals import post_migrate, pre_delete

GENESIS = "0" * 64
CHANGE_SET_TABLE = "guidance_changeset"
TRIGGER_PREFIX = "guidance_append_only"
REFUSAL = "History is append-only"
APPEND_ONLY_MIGRATION = "0005_append_only_history"


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


def _hash_content(table, pairs):
    # Empty values are left out, so that a nullable column added to a table later does
    # not change the hash of the rows written before it.
    content = {name: _plain(value) for name, value in pairs if value not in (None, "")}
    encoded = json.dumps([table, content], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def row_hash(model, values):
    """Hash one history row from its column values (a dict keyed by attname)."""
    return _hash_content(
        model._meta.db_table,
        ((field.attname, values[field.attname]) for field in model._meta.concrete_fields),
    )


_TO_PLAIN = {
    datetime.datetime: datetime.datetime.isoformat,
    datetime.date: datetime.date.isoformat,
    datetime.time: datetime.time.isoformat,
    uuid.UUID: lambda value: value.hex,
    decimal.Decimal: str,
}
_JSON_NATIVE = {str, int, float, bool, list, dict}
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def row_hasher(model):
    """Return (attnames, hash_function) to hash rows given as tuples in attname order.

    Gives the same hash as row_hash(), with less work per row: verification hashes every
    history row there is.
    """
    table = model._meta.db_table
    attnames = [field.attname for field in model._meta.concrete_fields]
    columns = list(enumerate(attnames))
    sha256, encode, to_plain = hashlib.sha256, _ENCODER.encode, _TO_PLAIN

    def hash_values(row):
        content = {}
        for index, name in columns:
            value = row[index]
            if value is None or value == "":
                continue
            convert = to_plain.get(type(value))
            if convert is not None:
                value = convert(value)
            elif type(value) not in _JSON_NATIVE:
                value = _plain(value)
            content[name] = value
        return sha256(encode([table, content]).encode()).hexdigest()

    return attnames, hash_values


CHANGE_FIELDS = ("sequence", "created_at", "user_id", "reason", "kind", "source", "guidance_id")


def change_hash(change_set):
    """Hash who, when, why and what of a change (everything but the chain itself)."""
    return _hash_content(
        CHANGE_SET_TABLE, ((name, getattr(change_set, name)) for name in CHANGE_FIELDS)
    )


def change_digest(previous_digest, change_set_id, row_hashes, content_hash=""):
    """Chain a change to the one before it, over its own content and every row hash it holds."""
    digest = hashlib.sha256(f"{previous_digest}:{uuid.UUID(str(change_set_id)).hex}".encode())
    if content_hash:
        digest.update(f":{content_hash}".encode())
    for table in sorted(row_hashes):
        for history_id, value in sorted(row_hashes[table].items(), key=lambda item: int(item[0])):
            digest.update(f":{table}:{history_id}:{value}".encode())
    return digest.hexdigest()


def expected_digest(change_set):
    """The digest a stored change should carry, recomputed from what it holds now."""
    return change_digest(
        change_set.previous_digest, change_set.id, change_set.row_hashes, change_hash(change_set)
    )


def _lock_chain():
    # Two changes committing at once must not both chain to the same predecessor.
    if default_connection.vendor == "postgresql":
        with default_connection.cursor() as cursor:
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
    change_set.digest = expected_digest(change_set)


def chain_head(change_set_model=None):
    """The latest change of the chain (its sequence and digest), or None before any."""
    change_set_model = change_set_model or apps.get_model("guidance", "ChangeSet")
    return (
        change_set_model.objects.order_by("-sequence")
        .only("id", "sequence", "digest", "created_at")
        .first()
    )


# Append-only tables -------------------------------------------------------------------


def append_only_tables(models=None):
    """The change table and every history table: what the database refuses to rewrite."""
    return [CHANGE_SET_TABLE] + [model._meta.db_table for model in models or history_models()]


def _sqlite_trigger_names(table):
    return {"UPDATE": f"{table}_append_only_update", "DELETE": f"{table}_append_only_delete"}


def append_only_sql(vendor, table, quote):
    """Statements that make one table refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL)."""
    if vendor == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {TRIGGER_PREFIX} ON {quote(table)}",
            f"CREATE TRIGGER {TRIGGER_PREFIX} BEFORE UPDATE OR DELETE ON {quote(table)} "
            f"FOR EACH ROW EXECUTE FUNCTION {TRIGGER_PREFIX}_refuse()",
            f"DROP TRIGGER IF EXISTS {TRIGGER_PREFIX}_truncate ON {quote(table)}",
            f"CREATE TRIGGER {TRIGGER_PREFIX}_truncate BEFORE TRUNCATE ON {quote(table)} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGER_PREFIX}_refuse()",
        ]
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {quote(name)} BEFORE {operation} ON {quote(table)} "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}: {operation} on {table} is refused.'); END"
            for operation, name in _sqlite_trigger_names(table).items()
        ]
    raise NotImplementedError(f"Append-only history is not implemented for {vendor}.")


POSTGRESQL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {TRIGGER_PREFIX}_refuse() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{REFUSAL}: % on % is refused.', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql
"""


def install_append_only(connection, tables):
    """Create the refusing triggers on the given tables (idempotent)."""
    statements = []
    if connection.vendor == "postgresql":
        statements.append(POSTGRESQL_FUNCTION)
    for table in tables:
        statements += append_only_sql(connection.vendor, table, connection.ops.quote_name)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def remove_append_only(connection, tables):
    """Drop the refusing triggers (only a migration reversal does this)."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in tables:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER_PREFIX} ON {quote(table)}")
                cursor.execute(
                    f"DROP TRIGGER IF EXISTS {TRIGGER_PREFIX}_truncate ON {quote(table)}"
                )
            else:
                for name in _sqlite_trigger_names(table).values():
                    cursor.execute(f"DROP TRIGGER IF EXISTS {quote(name)}")


def tables_missing_append_only(connection, tables):
    """Tables among those given that lack an enabled refusing trigger."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
                "WHERE tgname LIKE %s AND tgenabled <> 'D'",
                [f"{TRIGGER_PREFIX}%"],
            )
            present = {(table.strip('"'), name) for table, name in cursor.fetchall()}
            wanted = {TRIGGER_PREFIX, f"{TRIGGER_PREFIX}_truncate"}
        else:
            cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
            present = set(cursor.fetchall())
            wanted = None
    missing = []
    for table in tables:
        names = wanted if wanted is not None else set(_sqlite_trigger_names(table).values())
        if not all((table, name) in present for name in names):
            missing.append(table)
    return missing


def reinstall_append_only(sender, using="default", apps=None, **kwargs):
    # A later migration that rebuilds a history table (SQLite copies a table to alter it)
    # would drop its triggers; put them back after every migrate.
    if getattr(sender, "name", None) != "guidance":
        return
    from django.db import connections  # noqa: PLC0415
    from django.db.migrations.recorder import MigrationRecorder  # noqa: PLC0415

    connection = connections[using]
    if ("guidance", APPEND_ONLY_MIGRATION) in MigrationRecorder(connection).applied_migrations():
        install_append_only(connection, append_only_tables())


post_migrate.connect(reinstall_append_only, dispatch_uid="guidance_reinstall_append_only")


class UserDeletionRefused(PermissionDenied):
    """Users are deactivated, never deleted: their history rows would lose who."""


def refuse_user_deletion(sender, instance, **kwargs):
    raise UserDeletionRefused(
        f"User {instance.get_username()!r} cannot be deleted: the history names who made "
        "each change. Deactivate the account instead (untick 'Active')."
    )


pre_delete.connect(
    refuse_user_deletion, sender=settings.AUTH_USER_MODEL, dispatch_uid="guidance_keep_users"
)


# Verification ------------------------------------------------------------------------


class Problem:
    """One thing in the record that does not match its seal: where, and what differs."""

    def __init__(self, table, row, what):
        self.table = table
        self.row = row
        self.what = what

    def __str__(self):
        return f"{self.table} {self.row}: {self.what}"

    def __repr__(self):
        return f"Problem({self.table!r}, {self.row!r}, {self.what!r})"


class Verification:
    """Recompute every row hash and the whole chain; compare live rows with their history.

    Streams each table once, so memory grows with the number of records, not with reads.
    """

    CHUNK = 10000

    def __init__(self, *, connection=default_connection, expect_head=None):
        self.connection = connection
        self.expect_head = expect_head
        self.counts = {"changes": 0, "history rows": 0, "live rows": 0}
        self.head = None

    def problems(self):
        """Yield every problem, the chain's first, then each table's in id order."""
        with self._one_snapshot():
            yield from self._problems()

    @contextlib.contextmanager
    def _one_snapshot(self):
        """On PostgreSQL, every read sees the database as it was when verification began.

        Otherwise each query sees the changes committed before it: a change an editor saves
        while the chain is checked would show as history rows in no sealed change, and the
        live rows it wrote as writes that bypassed history. On SQLite, a transaction held
        open for the whole run would keep every writer waiting, so a change made meanwhile
        can show as problems there: run it again.
        """
        if self.connection.vendor != "postgresql" or self.connection.in_atomic_block:
            yield
            return
        with transaction.atomic(using=self.connection.alias):
            with self.connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def _problems(self):
        self.sealed = {}
        yield from self._chain()
        yield from self._head_kept_outside()
        for model in history_models():
            yield from self._history_table(model)
        for table, rows in sorted(self.sealed.items()):
            for history_id in sorted(rows):
                yield Problem(table, history_id, "missing row: its table no longer exists")
        for table in tables_missing_append_only(self.connection, append_only_tables()):
            yield Problem(table, "-", "the append-only triggers are missing or disabled")

    def _chain(self):
        change_set_model = apps.get_model("guidance", "ChangeSet")
        fields = ("id", "previous_digest", "digest", "row_hashes", *CHANGE_FIELDS)
        previous = None
        rows = change_set_model.objects.order_by("sequence").values_list(*fields)
        for values in rows.iterator(chunk_size=self.CHUNK):
            change = _Change(zip(fields, values, strict=True))
            self.counts["changes"] += 1
            expected_sequence = previous.sequence + 1 if previous else 1
            if change.sequence != expected_sequence:
                yield Problem(
                    CHANGE_SET_TABLE,
                    change.sequence,
                    f"missing change: the chain jumps from {expected_sequence - 1} "
                    f"to {change.sequence}",
                )
            expected_previous = previous.digest if previous else GENESIS
            if change.previous_digest != expected_previous:
                yield Problem(
                    CHANGE_SET_TABLE,
                    change.sequence,
                    "broken link: it does not chain to the digest of the change before it",
                )
            if expected_digest(change) != change.digest:
                yield Problem(
                    CHANGE_SET_TABLE,
                    change.sequence,
                    "changed content: who, when, why or the list of its rows was altered "
                    f"(change {change.id})",
                )
            for table, row_hashes in (change.row_hashes or {}).items():
                sealed = self.sealed.setdefault(table, {})
                for history_id, value in row_hashes.items():
                    sealed[int(history_id)] = (value, change.sequence)
            previous = change
        self.head = previous

    def _head_kept_outside(self):
        if not self.expect_head:
            return
        sequence, digest = self.expect_head
        change_set_model = apps.get_model("guidance", "ChangeSet")
        stored = change_set_model.objects.filter(sequence=sequence).values_list("digest").first()
        if stored is None:
            yield Problem(CHANGE_SET_TABLE, sequence, "the head you kept is no longer in the chain")
        elif stored[0] != digest:
            yield Problem(
                CHANGE_SET_TABLE,
                sequence,
                f"the head you kept had digest {digest}; the chain now says {stored[0]}",
            )

    def _history_table(self, model):
        table = model._meta.db_table
        attnames, hash_values = row_hasher(model)
        history_id_at = attnames.index("history_id")
        live_model = model.instance_type
        live_attnames = [field.attname for field in live_model._meta.concrete_fields]
        live_values = operator.itemgetter(*(attnames.index(name) for name in live_attnames))
        id_at = attnames.index(live_model._meta.pk.attname)
        type_at = attnames.index("history_type")
        sealed = self.sealed.pop(table, {})
        latest = {}
        count = 0
        rows = model.objects.order_by("history_id").values_list(*attnames)
        for row in rows.iterator(chunk_size=self.CHUNK):
            count += 1
            history_id = row[history_id_at]
            seal_of_row = sealed.pop(history_id, None)
            if seal_of_row is None:
                yield Problem(table, history_id, "row not in any sealed change")
            elif hash_values(row) != seal_of_row[0]:
                yield Problem(
                    table,
                    history_id,
                    f"changed content: the row no longer matches its hash in change "
                    f"{seal_of_row[1]}",
                )
            # Rows come in insertion order, so the last one seen per record is its latest.
            latest[row[id_at]] = (row[type_at], live_values(row))
        self.counts["history rows"] += count
        for history_id, (_, sequence) in sorted(sealed.items()):
            yield Problem(table, history_id, f"missing row: change {sequence} sealed it")
        yield from self._live_table(live_model, live_attnames, latest)

    def _live_table(self, live_model, attnames, latest):
        table = live_model._meta.db_table
        pk_at = attnames.index(live_model._meta.pk.attname)
        rows = live_model._base_manager.order_by("pk").values_list(*attnames)
        for row in rows.iterator(chunk_size=self.CHUNK):
            self.counts["live rows"] += 1
            history = latest.pop(row[pk_at], None)
            if history is None:
                yield Problem(table, row[pk_at], "live row with no history")
            elif history[0] == "-":
                yield Problem(table, row[pk_at], "live row whose history says it was deleted")
            elif history[1] != row:
                differing = [
                    name
                    for name, old, new in zip(attnames, history[1], row, strict=True)
                    if old != new
                ]
                yield Problem(
                    table,
                    row[pk_at],
                    f"live row differs from its latest history row in {', '.join(differing)} "
                    "(a write that bypassed history)",
                )
        for pk, (history_type, _) in sorted(latest.items()):
            if history_type != "-":
                yield Problem(table, pk, "row deleted without history")


class _Change:
    def __init__(self, pairs):
        self.__dict__.update(pairs)
