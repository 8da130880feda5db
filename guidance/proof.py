"""The arithmetic of the history chain: hashes, digests and signatures, and nothing else.

This module imports no model and needs no database, so that an evidence pack can be checked
on a machine that has neither (see verify_evidence). guidance.ledger seals and verifies the
live chain with these same functions.

The formats below are a contract with every digest already stored: change them and every
existing chain stops verifying. A new way of sealing gets a new format number instead.
"""

import base64
import datetime
import decimal
import hashlib
import json
import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

GENESIS = "0" * 64
CHANGE_SET_TABLE = "guidance_changeset"

# Format 1: sealed before signing existed. Who, when and why, and every row's columns as the
# tables had them then (LEGACY_ROW_FIELDS); no signature.
# Format 2: also the username and display name as they were, the columns of each table as
# they were sealed, and the id of the key whose Ed25519 signature covers the digest.
# Format 3: also when the change took effect and how precisely that is known.
LEGACY_FORMAT = 1
SIGNED_FORMAT = 2
EFFECTIVE_FORMAT = 3
CURRENT_FORMAT = EFFECTIVE_FORMAT
SIGNED_FORMATS = (SIGNED_FORMAT, EFFECTIVE_FORMAT)

CHANGE_FIELDS = ("sequence", "created_at", "user_id", "reason", "kind", "source", "guidance_id")
SIGNED_CHANGE_FIELDS = (
    *CHANGE_FIELDS,
    "format",
    "username",
    "user_display_name",
    "key_id",
    "row_fields",
)
EFFECTIVE_CHANGE_FIELDS = (*SIGNED_CHANGE_FIELDS, "effective_at", "effective_precision")
# The fields of a change that its digest covers, by format.
FORMAT_FIELDS = {
    LEGACY_FORMAT: CHANGE_FIELDS,
    SIGNED_FORMAT: SIGNED_CHANGE_FIELDS,
    EFFECTIVE_FORMAT: EFFECTIVE_CHANGE_FIELDS,
}

_HISTORY_COLUMNS = ["history_id", "history_date", "history_change_reason", "history_type"]
_HISTORY_COLUMNS.append("history_user_id")
# The columns of every history table when format 1 changes were sealed (migration 0007).
LEGACY_ROW_FIELDS = {
    "guidance_historicalblock": [
        "id", "change_set_id", "position", "kind", "number", "title", "text", "bullets",
        "category", "guidance_id", "chapter_id", *_HISTORY_COLUMNS,
    ],
    "guidance_historicalchapter": [
        "id", "change_set_id", "position", "number", "title", "slug", "guidance_id",
        *_HISTORY_COLUMNS,
    ],
    "guidance_historicalendorsement": [
        "id", "change_set_id", "statement", "guidance_id", "organisation_id", *_HISTORY_COLUMNS,
    ],
    "guidance_historicalguidance": [
        "id", "change_set_id", "reference", "number", "title", "summary", "status",
        "status_explanation", "is_stub", "published_on", "published_precision",
        "last_updated_on", "last_updated_precision", "isbn", "minor_changes_heading",
        "version", "programme_id", *_HISTORY_COLUMNS,
    ],
    "guidance_historicalorganisation": ["id", "change_set_id", "name", *_HISTORY_COLUMNS],
    "guidance_historicalprogramme": [
        "id", "change_set_id", "code", "name", "recommendation_vocabulary", "is_active",
        *_HISTORY_COLUMNS,
    ],
    "guidance_historicalrelation": [
        "id", "change_set_id", "type", "effective_on", "effective_precision", "note",
        "position", "source_id", "target_id", *_HISTORY_COLUMNS,
    ],
    "guidance_historicalresponsibilitystatement": [
        "id", "change_set_id", "applies_from", "applies_from_precision", "text",
        "programme_id", *_HISTORY_COLUMNS,
    ],
    "guidance_historicalupdateentry": [
        "id", "change_set_id", "position", "date", "precision", "kind", "text", "guidance_id",
        *_HISTORY_COLUMNS,
    ],
}  # fmt: skip


def plain(value):
    """A value as it is hashed: dates in ISO 8601, UUIDs as 32 hex digits, decimals as text."""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def hash_content(table, pairs):
    """SHA-256 of a table name and (name, value) pairs, empty values left out."""
    # Empty values are left out, so that a nullable column added to a table later does
    # not change the hash of the rows written before it.
    content = {name: plain(value) for name, value in pairs if value not in (None, "")}
    encoded = json.dumps([table, content], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def sealed_fields(change_format, row_fields, table):
    """The columns of a table that a change of this format sealed (None: table unknown)."""
    if change_format == LEGACY_FORMAT:
        return LEGACY_ROW_FIELDS.get(table)
    return (row_fields or {}).get(table)


def row_hash_of(table, fields, values):
    """Hash one history row: the sealed columns only, read from a dict keyed by column."""
    return hash_content(table, ((name, values.get(name)) for name in fields))


def change_hash_of(values):
    """Hash who, when, why and what of a change, given its fields as a dict."""
    # An unknown format is hashed as the latest: chain_problems names it as forged.
    names = FORMAT_FIELDS.get(values.get("format", LEGACY_FORMAT), EFFECTIVE_CHANGE_FIELDS)
    return hash_content(CHANGE_SET_TABLE, ((name, values.get(name)) for name in names))


def change_digest(previous_digest, change_set_id, row_hashes, content_hash=""):
    """Chain a change to the one before it, over its own content and every row hash it holds."""
    digest = hashlib.sha256(f"{previous_digest}:{uuid.UUID(str(change_set_id)).hex}".encode())
    if content_hash:
        digest.update(f":{content_hash}".encode())
    for table in sorted(row_hashes):
        for history_id, value in sorted(row_hashes[table].items(), key=lambda item: int(item[0])):
            digest.update(f":{table}:{history_id}:{value}".encode())
    return digest.hexdigest()


# Keys and signatures ---------------------------------------------------------------------


class KeyProblem(ValueError):
    """A key that cannot be read; the message says which and why."""


def load_private_key(pem, where):
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as error:
        raise KeyProblem(f"{where} is not a PEM private key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyProblem(f"{where} is not an Ed25519 key.")
    return key


def load_public_keys(pem, where):
    """Every Ed25519 public key of a PEM text holding one or more."""
    marker = "-----BEGIN PUBLIC KEY-----"
    blocks = [marker + block for block in pem.split(marker)[1:]]
    if not blocks:
        raise KeyProblem(f"{where} holds no PEM public key ({marker}).")
    keys = []
    for number, block in enumerate(blocks, start=1):
        try:
            key = serialization.load_pem_public_key(block.encode())
        except ValueError as error:
            raise KeyProblem(f"{where}, key {number}: {error}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyProblem(f"{where}, key {number}: not an Ed25519 key.")
        keys.append(key)
    return keys


def public_pem(public_key):
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def key_id(public_key):
    """A short, stable name for a public key: the start of the SHA-256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(private_key, digest):
    return base64.b64encode(private_key.sign(digest.encode())).decode()


def signature_is_valid(public_key, digest, signature):
    try:
        public_key.verify(base64.b64decode(signature, validate=True), digest.encode())
    except (InvalidSignature, ValueError):
        return False
    return True


def new_private_key_pem():
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


# Checking a chain ------------------------------------------------------------------------


def chain_problems(change, previous, public_keys, *, signed_seen):
    """What is wrong with one change, given the one before it (None for the first).

    change and previous are dicts of the change's stored fields; created_at a datetime.
    public_keys maps key id to public key. signed_seen: a signed change came before.
    Returns a list of messages.
    """
    problems = []
    expected_sequence = previous["sequence"] + 1 if previous else 1
    if change["sequence"] != expected_sequence:
        problems.append(
            f"missing change: the chain jumps from {expected_sequence - 1} to {change['sequence']}"
        )
    expected_previous = previous["digest"] if previous else GENESIS
    if change["previous_digest"] != expected_previous:
        problems.append("broken link: it does not chain to the digest of the change before it")
    if previous is not None and change["created_at"] < previous["created_at"]:
        problems.append(
            f"time goes backwards: recorded at {change['created_at'].isoformat()}, before change "
            f"{previous['sequence']} ({previous['created_at'].isoformat()})"
        )
    content = change_hash_of(change)
    digest = change_digest(change["previous_digest"], change["id"], change["row_hashes"], content)
    if digest != change["digest"]:
        problems.append(
            "changed content: who, when, why or the list of its rows was altered "
            f"(change {uuid.UUID(str(change['id'])).hex})"
        )
    change_format = change.get("format", LEGACY_FORMAT)
    if change_format == LEGACY_FORMAT:
        if signed_seen:
            problems.append(
                "forged: sealed without the key (an unsigned change after signing began)"
            )
    elif change_format not in SIGNED_FORMATS:
        problems.append(f"forged: unknown format {change_format}")
    else:
        key = public_keys.get(change.get("key_id") or "")
        if key is None:
            problems.append(
                f"forged: signed by key {change.get('key_id') or '(none)'}, which is not one of "
                "the public keys configured"
            )
        elif not signature_is_valid(key, change["digest"], change.get("signature") or ""):
            problems.append(
                "forged: the signature does not match its digest (sealed without the key)"
            )
    return problems
