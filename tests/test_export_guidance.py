import datetime
import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from guidance import models
from guidance.editorial.services import migrate_guidance
from guidance.history import recording
from guidance.interchange.exporters import EXPORTED_FIELDS, export_json, load_document
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
        "level": 1,
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
    assert "# Guidance" not in text  # no chapter the document does not have


def test_exporting_an_unknown_reference_says_so():
    from django.core.management import CommandError  # noqa: PLC0415

    with pytest.raises(CommandError, match="no guidance with reference 'HTG9999'"):
        call_command("export_guidance", "HTG9999")
    with pytest.raises(CommandError, match="is not a guidance reference"):
        call_command("export_guidance", "not a ref")


def test_a_migration_is_exported_as_a_migration_never_as_a_replacement(capsys):
    import_guidance_file(SAMPLES / "mtg1.md")
    mtg1 = models.Guidance.objects.get(reference="MTG1")
    migrate_guidance(
        guidance=mtg1,
        new_reference="HTG999",
        month=datetime.date(2025, 12, 1),
        user=None,
        reason="HealthTech migration",
    )

    text = export("HTG999", "text", capsys)
    assert "Medical technologies guidance 1 has been migrated to HealthTech guidance 999" in text
    assert "replaces" not in text
    old = export("MTG1", "text", capsys)
    assert "has been migrated to HealthTech guidance 999" in old


def test_a_relation_recorded_without_words_is_exported_in_plain_ones(capsys):
    import_guidance_file(SAMPLES / "mtg1.md")
    mtg1 = models.Guidance.objects.get(reference="MTG1")
    with recording(reason="Editor records a migration"):
        htg = models.Guidance.objects.create(
            reference="HTG7", programme=models.Programme.objects.get(code="HTG"), number=7
        )
        models.Relation.objects.create(source=mtg1, type="migrated-to", target=htg)
    assert "MTG1 has been migrated to HTG7." in export("HTG7", "text", capsys)
    assert "MTG1 has been migrated to HTG7." in export("MTG1", "text", capsys)


def test_facts_a_document_does_not_state_are_null(capsys):
    import_guidance_file(SAMPLES / "ipg346.md")
    record = json.loads(export("IPG346", "json", capsys))
    assert [record[key] for key in ("title", "summary", "isbn", "status_explanation")] == [None] * 4
    assert [record[key] for key in ("published", "last_updated", "review_decision")] == [None] * 3
    assert record["notices"] == [] and record["chapters"] == []


@pytest.mark.parametrize(
    "model",
    [models.Guidance, models.Chapter, models.Block, models.UpdateEntry, models.Relation],
    ids=lambda model: model.__name__,
)
def test_the_json_record_carries_every_field_of_the_model(model, capsys):
    """Adding a field to a document's models means saying where the export carries it."""
    import_guidance_file(SAMPLES.parent.parent / "tests" / "documents" / "ng_shape.md")
    record = export_json(load_document("NG220"))
    keys = {
        "Guidance": set(record),
        "Chapter": {key for chapter in record["chapters"] for key in chapter},
        "Block": {key for c in record["chapters"] for block in c["blocks"] for key in block},
        "UpdateEntry": {key for entry in record["update_information"] for key in entry},
        "Relation": {key for relation in record["relations"] for key in relation},
    }[model.__name__]
    places = EXPORTED_FIELDS[model.__name__]
    for field in model._meta.concrete_fields:
        assert field.name in places, (
            f"{model.__name__}.{field.name} is not in the export: add it to export_json and "
            "EXPORTED_FIELDS"
        )
        if places[field.name]:
            assert places[field.name] in keys, (
                f"{model.__name__}.{field.name}: no key {places[field.name]!r} in the export"
            )
