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
import functools
import hashlib
import json
import operator
import uuid
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import connection as default_connection
from django.db import transaction
from django.db.models.signals import post_migrate, pre_delete

from . import proof
from .proof import (  # noqa: F401
    CHANGE_FIELDS,
    CHANGE_SET_TABLE,
    EFFECTIVE_CHANGE_FIELDS,
    GENESIS,
    SIGNED_CHANGE_FIELDS,
)

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


def current_fields(model):
    """The columns of a history table as they are now, in the model's order."""
    return [field.attname for field in model._meta.concrete_fields]


def row_hash(model, values, fields=None):
    """Hash one history row from its column values (a dict keyed by attname).

    fields: the columns its change sealed (default: the table's columns now).
    """
    return proof.row_hash_of(model._meta.db_table, fields or current_fields(model), values)


_TO_PLAIN = {
    datetime.datetime: datetime.datetime.isoformat,
    datetime.date: datetime.date.isoformat,
    datetime.time: datetime.time.isoformat,
    uuid.UUID: lambda value: value.hex,
    decimal.Decimal: str,
}
_JSON_NATIVE = {str, int, float, bool, list, dict}
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def row_hasher(model, fields=None):
    """Return (attnames, hash_function) to hash rows given as tuples in attname order.

    Gives the same hash as row_hash(model, values, fields), with less work per row:
    verification hashes every history row there is. A sealed column the table no longer
    has counts as empty.
    """
    table = model._meta.db_table
    attnames = current_fields(model)
    position = {name: index for index, name in enumerate(attnames)}
    columns = [(position[name], name) for name in fields or attnames if name in position]
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
                value = proof.plain(value)
            content[name] = value
        return sha256(encode([table, content]).encode()).hexdigest()

    return attnames, hash_values


def change_values(change_set):
    """The fields of a change that its digest covers, as a dict."""
    return {name: getattr(change_set, name, None) for name in EFFECTIVE_CHANGE_FIELDS}


def change_hash(change_set):
    """Hash who, when, why and what of a change (everything but the chain itself)."""
    return proof.change_hash_of(change_values(change_set))


def change_digest(previous_digest, change_set_id, row_hashes, content_hash=""):
    """Chain a change to the one before it, over its own content and every row hash it holds."""
    return proof.change_digest(previous_digest, change_set_id, row_hashes, content_hash)


def expected_digest(change_set):
    """The digest a stored change should carry, recomputed from what it holds now."""
    return change_digest(
        change_set.previous_digest, change_set.id, change_set.row_hashes, change_hash(change_set)
    )


def lock_chain():
    """Hold the chain until the transaction ends: changes are sealed one at a time, in order."""
    # Two changes committing at once must not both chain to the same predecessor.
    if default_connection.vendor == "postgresql":
        with default_connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(727274)")


def rows_of_change(change_set_id, models=None):
    """Yield (model, values) for every history row of one change."""
    for model in history_models() if models is None else models:
        attnames = current_fields(model)
        for values in model.objects.filter(change_set_id=change_set_id).values(*attnames):
            yield model, values


def seal(change_set, models=None):
    """Fill the change's row hashes, sequence, digest and signature, chained to the latest."""
    change_set_model = type(change_set)
    lock_chain()
    if not any(field.name == "format" for field in change_set_model._meta.fields):
        # A migration older than signing (0002) records a change as the code did then.
        return _seal_unsigned(change_set, models)
    key = signing_key()
    hashes, fields = {}, {}
    for model, values in rows_of_change(change_set.id, models):
        table = model._meta.db_table
        fields[table] = current_fields(model)
        hashes.setdefault(table, {})[str(values["history_id"])] = row_hash(
            model, values, fields[table]
        )
    latest = change_set_model.objects.order_by("-sequence").only("sequence", "digest").first()
    user = change_set.user
    change_set.sequence = latest.sequence + 1 if latest else 1
    change_set.previous_digest = latest.digest if latest else GENESIS
    change_set.row_hashes = hashes
    change_set.row_fields = fields
    # A migration older than effective dates (0013) seals as format 2 did.
    has_effective_date = any(f.name == "effective_at" for f in change_set_model._meta.fields)
    change_set.format = proof.CURRENT_FORMAT if has_effective_date else proof.SIGNED_FORMAT
    # As the user was named when the change was made: a later rename changes neither.
    change_set.username = user.username
    change_set.user_display_name = f"{user.first_name} {user.last_name}".strip()
    change_set.key_id = proof.key_id(key.public_key())
    change_set.digest = expected_digest(change_set)
    change_set.signature = proof.sign(key, change_set.digest)


def _seal_unsigned(change_set, models):
    hashes = {}
    for model, values in rows_of_change(change_set.id, models):
        table = hashes.setdefault(model._meta.db_table, {})
        table[str(values["history_id"])] = row_hash(model, values)
    latest = type(change_set).objects.order_by("-sequence").only("sequence", "digest").first()
    change_set.sequence = latest.sequence + 1 if latest else 1
    change_set.previous_digest = latest.digest if latest else GENESIS
    change_set.row_hashes = hashes
    content = proof.hash_content(
        CHANGE_SET_TABLE, ((name, getattr(change_set, name)) for name in CHANGE_FIELDS)
    )
    change_set.digest = change_digest(change_set.previous_digest, change_set.id, hashes, content)


def chain_head(change_set_model=None):
    """The latest change of the chain (its sequence and digest), or None before any."""
    change_set_model = change_set_model or apps.get_model("guidance", "ChangeSet")
    return (
        change_set_model.objects.order_by("-sequence")
        .only("id", "sequence", "digest", "created_at")
        .first()
    )


# Keys ---------------------------------------------------------------------------------


class NoSigningKey(ImproperlyConfigured):
    """No key to sign changes with: nothing can be recorded until one is configured."""


def _read(path, setting):
    try:
        return Path(path).read_text()
    except OSError as error:
        raise NoSigningKey(f"{setting}={str(path)!r} cannot be read: {error.strerror}.") from None


@functools.lru_cache(maxsize=8)
def _private_key(pem, where):
    try:
        return proof.load_private_key(pem, where)
    except proof.KeyProblem as problem:
        raise NoSigningKey(str(problem)) from None


def signing_key():
    """The private key that signs each change, from HISTORY_SIGNING_KEY or its file."""
    if settings.HISTORY_SIGNING_KEY:
        return _private_key(settings.HISTORY_SIGNING_KEY, "HISTORY_SIGNING_KEY")
    path = settings.HISTORY_SIGNING_KEY_FILE
    if not path or not Path(path).exists():
        raise NoSigningKey(
            "No key to sign history with. Set HISTORY_SIGNING_KEY_FILE to an Ed25519 private "
            "key in PEM (make one with `python manage.py make_signing_key PATH`), or run "
            "`make run`, which makes a development key."
        )
    return _private_key(_read(path, "HISTORY_SIGNING_KEY_FILE"), str(path))


def has_signing_key():
    try:
        signing_key()
    except NoSigningKey:
        return False
    return True


def verification_keys():
    """{key id: public key}: the signing key's, and every older one in HISTORY_PUBLIC_KEYS_FILE."""
    keys = []
    if settings.HISTORY_PUBLIC_KEYS_FILE:
        path = settings.HISTORY_PUBLIC_KEYS_FILE
        pem = _read(path, "HISTORY_PUBLIC_KEYS_FILE")
        try:
            keys += proof.load_public_keys(pem, str(path))
        except proof.KeyProblem as problem:
            raise ImproperlyConfigured(str(problem)) from None
    if has_signing_key():
        keys.append(signing_key().public_key())
    return {proof.key_id(key): key for key in keys}


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
            # Fire in every session, whatever its session_replication_role.
            f"ALTER TABLE {quote(table)} ENABLE ALWAYS TRIGGER {TRIGGER_PREFIX}",
            f"ALTER TABLE {quote(table)} ENABLE ALWAYS TRIGGER {TRIGGER_PREFIX}_truncate",
        ]
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {quote(name)} BEFORE {operation} ON {quote(table)} "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}: {operation} on {table} is refused.'); END"
            for operation, name in _sqlite_trigger_names(table).items()
        ]
    raise NotImplementedError(f"Append-only history is not implemented for {vendor}.")


POSTGRESQL_FUNCTION_BODY = f"""
BEGIN
    RAISE EXCEPTION '{REFUSAL}: % on % is refused.', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
"""
POSTGRESQL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {TRIGGER_PREFIX}_refuse() RETURNS trigger
AS $${POSTGRESQL_FUNCTION_BODY}$$ LANGUAGE plpgsql
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


# pg_trigger.tgtype bits: ROW 1, BEFORE 2, DELETE 8, UPDATE 16, TRUNCATE 32.
_TRIGGER_TYPES = {TRIGGER_PREFIX: 1 | 2 | 8 | 16, f"{TRIGGER_PREFIX}_truncate": 2 | 32}
_NOT_ALWAYS = {
    "D": "is disabled",
    "R": "fires only in replication sessions",
    "O": "is skipped in sessions with session_replication_role = replica",
}


def append_only_problems(connection, tables):
    """(table, what is wrong) for every refusing trigger that is missing, off or altered."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
            present = set(cursor.fetchall())
        return [
            (table, f"the append-only trigger {name} is missing")
            for table in tables
            for name in _sqlite_trigger_names(table).values()
            if (table, name) not in present
        ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname, t.tgenabled, t.tgtype, p.proname, p.prosrc, l.lanname "
            "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_language l ON l.oid = p.prolang "
            "WHERE t.tgname LIKE %s AND c.relnamespace = to_regnamespace(current_schema())",
            [f"{TRIGGER_PREFIX}%"],
        )
        found = {(row[0], row[1]): row[2:] for row in cursor.fetchall()}
    problems = []
    replaced = False
    for table in tables:
        for name, tgtype in _TRIGGER_TYPES.items():
            trigger = found.get((table, name))
            if trigger is None:
                problems.append((table, f"the append-only trigger {name} is missing"))
                continue
            enabled, actual_type, function, body, language = trigger
            if enabled in _NOT_ALWAYS:
                problems.append(
                    (
                        table,
                        f"the append-only trigger {name} {_NOT_ALWAYS[enabled]} "
                        f"(tgenabled {enabled!r}, not 'A')",
                    )
                )
            if actual_type != tgtype or function != f"{TRIGGER_PREFIX}_refuse":
                problems.append(
                    (
                        table,
                        f"the append-only trigger {name} was redefined: it no longer "
                        f"runs {TRIGGER_PREFIX}_refuse() before every write",
                    )
                )
            elif (body != POSTGRESQL_FUNCTION_BODY or language != "plpgsql") and not replaced:
                replaced = True
                problems.append(
                    (
                        table,
                        f"the trigger function {function}() was replaced: its body "
                        "differs from the one the migration installed",
                    )
                )
    return problems


def tables_missing_append_only(connection, tables):
    """Tables among those given whose refusing triggers are missing, off or altered."""
    broken = {table for table, _ in append_only_problems(connection, tables)}
    return [table for table in tables if table in broken]


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
    """Recompute every row hash and the whole chain, and check every signature; compare live
    rows with their history, the chain with the heads a witness kept, and the triggers with
    what the migration installed.

    Streams each table once, so memory grows with the number of records, not with reads.
    """

    CHUNK = 10000

    def __init__(self, *, connection=default_connection, expect_head=None, witnessed=None):
        self.connection = connection
        self.expect_head = expect_head
        # [(sequence, digest, line number)] read from a witness file.
        self.witnessed = witnessed or []
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
        yield from self._witnessed_heads()
        for model in history_models():
            yield from self._history_table(model)
        for table, rows in sorted(self.sealed.items()):
            for history_id in sorted(rows):
                yield Problem(table, history_id, "missing row: its table no longer exists")
        for table, what in append_only_problems(self.connection, append_only_tables()):
            yield Problem(table, "-", what)

    def _chain(self):
        change_set_model = apps.get_model("guidance", "ChangeSet")
        fields = ("id", "previous_digest", "digest", "row_hashes", "signature")
        fields += EFFECTIVE_CHANGE_FIELDS
        keys = verification_keys()
        previous = None
        signed_seen = False
        self.digests = {}
        # One tuple per distinct list of sealed columns, shared by every row sealed with it.
        column_lists = {}
        rows = change_set_model.objects.order_by("sequence").values_list(*fields)
        for values in rows.iterator(chunk_size=self.CHUNK):
            change = dict(zip(fields, values, strict=True))
            self.counts["changes"] += 1
            for what in proof.chain_problems(change, previous, keys, signed_seen=signed_seen):
                yield Problem(CHANGE_SET_TABLE, change["sequence"], what)
            signed_seen = signed_seen or change["format"] != proof.LEGACY_FORMAT
            self.digests[change["sequence"]] = change["digest"]
            for table, row_hashes in (change["row_hashes"] or {}).items():
                columns = proof.sealed_fields(change["format"], change["row_fields"], table)
                columns = column_lists.setdefault(tuple(columns or ()), tuple(columns or ()))
                sealed = self.sealed.setdefault(table, {})
                for history_id, value in row_hashes.items():
                    sealed[int(history_id)] = (value, change["sequence"], columns)
            previous = change
        if previous is not None and not signed_seen:
            yield Problem(
                CHANGE_SET_TABLE,
                previous["sequence"],
                "forged: no change of the chain is signed (it was sealed without the key)",
            )
        self.head = _Change(previous.items()) if previous else None

    def _head_kept_outside(self):
        if not self.expect_head:
            return
        sequence, digest = self.expect_head
        stored = self.digests.get(sequence)
        if stored is None:
            yield Problem(CHANGE_SET_TABLE, sequence, "the head you kept is no longer in the chain")
        elif stored != digest:
            yield Problem(
                CHANGE_SET_TABLE,
                sequence,
                f"the head you kept had digest {digest}; the chain now says {stored}",
            )

    def _witnessed_heads(self):
        for sequence, digest, line in self.witnessed:
            stored = self.digests.get(sequence)
            if stored is None:
                yield Problem(
                    CHANGE_SET_TABLE,
                    sequence,
                    f"witnessed head (line {line}) is no longer in the chain: it was truncated",
                )
            elif stored != digest:
                yield Problem(
                    CHANGE_SET_TABLE,
                    sequence,
                    f"witnessed head (line {line}) had digest {digest}; the chain now says "
                    f"{stored}: it was resealed",
                )

    def _history_table(self, model):
        table = model._meta.db_table
        attnames = current_fields(model)
        hashers = {}
        history_id_at = attnames.index("history_id")
        live_model = model.instance_type
        # Columns history does not keep (a password, the last sign-in) are not compared.
        live_attnames = [
            field.attname for field in live_model._meta.concrete_fields if field.attname in attnames
        ]
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
            else:
                columns = seal_of_row[2]
                if columns not in hashers:
                    hashers[columns] = row_hasher(model, columns)[1] if columns else None
                hash_values = hashers[columns]
                if hash_values is None:
                    yield Problem(
                        table,
                        history_id,
                        f"change {seal_of_row[1]} recorded no columns for this table",
                    )
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
        for history_id, (_, sequence, _) in sorted(sealed.items()):
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
