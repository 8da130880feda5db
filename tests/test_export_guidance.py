import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from guidance.interchange.importers import import_guidance_file

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parents[1] / "guidance" / "samples"


def words(text):
    """The words of a document, markup aside: headings, bullets, emphasis, link targets,
    HTML comments, PDF line breaks and the contents list's page numbers."""
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.DOTALL)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\s*\.{2,}\s*\d+\s*$", "", text, flags=re.MULTILINE)  # ".....   4"
    text = re.sub(r"^\s*(#+|[-*•])\s+", "", text, flags=re.MULTILINE)
    text = text.replace("**", "")
    return text.split()


def export(reference, fmt, capsys):
    call_command("export_guidance", reference, "--format", fmt)
    return capsys.readouterr().out


def test_the_complete_sample_round_trips_word_for_word(capsys):
    source = (SAMPLES / "htg501.txt").read_text()
    import_guidance_file(SAMPLES / "htg501.txt")

    exported = export("htg501", "text", capsys)

    assert words(exported) == words(source)


def test_an_exported_document_imports_back_to_the_same_record(tmp_path, capsys):
    import_guidance_file(SAMPLES / "htg501.txt")
    first = export("HTG501", "json", capsys)
    path = tmp_path / "again.txt"
    path.write_text(export("HTG501", "text", capsys))

    result = import_guidance_file(path)

    assert not result.changed
    assert export("HTG501", "json", capsys) == first


def test_the_json_record_carries_the_public_contract(capsys):
    import_guidance_file(SAMPLES / "htg501.txt")
    record = json.loads(export("HTG501", "json", capsys))

    assert record["reference"] == "HTG501"
    assert record["programme"] == {"code": "HTG", "name": "HealthTech guidance"}
    assert record["status"] == "published"
    assert record["published"] == {"date": "2019-01-30", "precision": "day"}
    assert record["last_updated"] is None
    assert record["isbn"] == "978-1-4731-8875-4"
    assert record["former_references"] == ["IPG640"]
    assert record["recommendations"] == [
        {
            "number": "1.1",
            "text": record["recommendations"][0]["text"],
            "category": "do not use",
        }
    ]
    relations = {(r["type"], r["direction"], r["reference"]) for r in record["relations"]}
    assert relations == {("replaces", "outgoing", "IPG420"), ("migrated-to", "incoming", "IPG640")}
    migration = next(r for r in record["relations"] if r["reference"] == "IPG640")
    assert migration["effective"] == {"date": "2026-01-01", "precision": "month"}
    assert [c["slug"] for c in record["chapters"]][0] == "1-recommendations"
    assert record["chapters"][1]["blocks"][0] == {
        "type": "heading",
        "number": None,
        "text": "The condition",
    }
    assert record["update_information"] == [
        {
            "date": "2026-01-01",
            "precision": "month",
            "kind": "minor",
            "text": record["update_information"][0]["text"],
        }
    ]
    assert record["endorsements"][0]["organisation"] == "Healthcare Improvement Scotland"


def test_a_stub_exports_as_what_the_notice_said(capsys):
    import_guidance_file(SAMPLES / "ipg346.md")
    record = json.loads(export("ipg346", "json", capsys))
    assert record["is_stub"] is True
    assert record["relations"][0]["reference"] == "IPG508"
    assert record["relations"][0]["label"] == "is replaced by"
    text = export("ipg346", "text", capsys)
    assert "This guidance has been updated and replaced by NICE interventional procedure" in text


def test_exporting_an_unknown_reference_says_so():
    from django.core.management import CommandError  # noqa: PLC0415

    with pytest.raises(CommandError, match="no guidance with reference 'HTG9999'"):
        call_command("export_guidance", "HTG9999")
    with pytest.raises(CommandError, match="is not a guidance reference"):
        call_command("export_guidance", "not a ref")
