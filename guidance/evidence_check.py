"""Check an evidence pack on its own: no database, no model, only the pack and guidance.proof.

A pack (see guidance.audit.evidence) holds a document's changes for a period, their history
rows, the chain from the first of them to the head, the public keys and the witnessed heads.
The check recomputes each row's hash and each change's digest, follows the chain link by
link, checks every signature and that times never go backwards, and that each witnessed
head in the pack's range is on its chain.
"""

import datetime
import hashlib
import json
import zipfile

from . import proof

PACK_FORMAT = 1


class BadPack(ValueError):
    """A pack that cannot be read at all; the message says which file and why."""


def _json(pack, name):
    try:
        return json.loads(pack.read(name))
    except KeyError:
        raise BadPack(f"The pack has no {name}.") from None
    except ValueError as error:
        raise BadPack(f"{name} is not JSON: {error}") from None


def _time(value):
    return datetime.datetime.fromisoformat(value)


def check_pack(path, trusted_keys_pem=None):
    """Return (problems, summary): what does not verify, and what was checked.

    trusted_keys_pem: public keys the checker trusts (PEM). Without them, the keys in the
    pack are used, and the summary names them so that a reader can compare them with the
    registry's published keys.
    """
    try:
        pack = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise BadPack(f"{path} is not a zip archive: {error}") from None
    with pack:
        manifest = _json(pack, "manifest.json")
        if manifest.get("format") != PACK_FORMAT:
            raise BadPack(f"manifest.json: unknown pack format {manifest.get('format')!r}.")
        problems = []
        for name, digest in sorted(manifest.get("files", {}).items()):
            try:
                content = pack.read(name)
            except KeyError:
                problems.append(f"{name}: listed in the manifest but missing")
                continue
            if hashlib.sha256(content).hexdigest() != digest:
                problems.append(f"{name}: differs from the manifest's SHA-256")
        keys_pem = trusted_keys_pem or pack.read("public_keys.pem").decode()
        keys = {proof.key_id(key): key for key in proof.load_public_keys(keys_pem, "public keys")}
        changes = _json(pack, "changes.json")
        rows = _json(pack, "history_rows.json")
        chain = _json(pack, "chain.json")
        witnessed = _json(pack, "witnessed_heads.json")

    for change in changes:
        change["created_at"] = _time(change["created_at"])
        problems += _change_problems(change, rows.get(change["id"], {}))
    problems += _chain_problems(chain, keys)
    by_sequence = {link["sequence"]: link["digest"] for link in chain}
    for change in changes:
        if by_sequence.get(change["sequence"]) != change["digest"]:
            problems.append(f"change {change['sequence']}: not the change the chain holds")
    first = chain[0]["sequence"] if chain else None
    for head in witnessed:
        if first is None or head["sequence"] < first:
            continue
        stored = by_sequence.get(head["sequence"])
        if stored is None:
            problems.append(f"witnessed head {head['sequence']}: not on the pack's chain")
        elif stored != head["digest"]:
            problems.append(
                f"witnessed head {head['sequence']}: the witness says {head['digest']}, "
                f"the chain {stored}"
            )
    summary = {
        "reference": manifest.get("reference"),
        "changes": len(changes),
        "history rows": sum(len(table) for tables in rows.values() for table in tables.values()),
        "chain links": len(chain),
        "witnessed heads": len(witnessed),
        "keys": sorted(keys),
        "trusted keys given": bool(trusted_keys_pem),
    }
    return problems, summary


def _change_problems(change, tables):
    problems = []
    where = f"change {change['sequence']}"
    for table, table_rows in tables.items():
        fields = proof.sealed_fields(change.get("format"), change.get("row_fields"), table)
        sealed = change["row_hashes"].get(table, {})
        for values in table_rows:
            history_id = str(values.get("history_id"))
            if history_id not in sealed:
                problems.append(f"{where}: {table} row {history_id} is not one it sealed")
            elif fields is None:
                problems.append(f"{where}: no sealed columns recorded for {table}")
            elif proof.row_hash_of(table, fields, values) != sealed[history_id]:
                problems.append(
                    f"{where}: {table} row {history_id} does not match the hash it was sealed with"
                )
    content = proof.change_hash_of(change)
    digest = proof.change_digest(
        change["previous_digest"], change["id"], change["row_hashes"], content
    )
    if digest != change["digest"]:
        problems.append(f"{where}: who, when, why or its rows differ from its digest")
    return problems


def _chain_problems(chain, keys):
    problems = []
    previous = None
    signed_seen = False
    for link in chain:
        link["created_at"] = _time(link["created_at"])
        where = f"chain link {link['sequence']}"
        if previous is not None:
            if link["sequence"] != previous["sequence"] + 1:
                problems.append(f"{where}: the chain jumps from {previous['sequence']}")
            if link["previous_digest"] != previous["digest"]:
                problems.append(f"{where}: does not chain to the digest before it")
            if link["created_at"] < previous["created_at"]:
                problems.append(f"{where}: time goes backwards")
        if link.get("format") in proof.SIGNED_FORMATS:
            key = keys.get(link.get("key_id") or "")
            if key is None:
                problems.append(f"{where}: signed by key {link.get('key_id')}, not a known key")
            elif not proof.signature_is_valid(key, link["digest"], link.get("signature") or ""):
                problems.append(f"{where}: the signature does not match (forged)")
            signed_seen = True
        elif link.get("format") != proof.LEGACY_FORMAT:
            problems.append(f"{where}: unknown format")
        elif signed_seen:
            problems.append(f"{where}: unsigned after signing began (forged)")
        previous = link
    if chain and not any(link.get("format") in proof.SIGNED_FORMATS for link in chain):
        problems.append("no link of the chain is signed")
    return problems
