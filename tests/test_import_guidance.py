import datetime
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from guidance.history import recording
from guidance.interchange.importers import import_guidance_file, import_guidance_text
from guidance.models import (
    Block,
    ChangeSet,
    Chapter,
    Guidance,
    GuidanceStatus,
    Programme,
    Relation,
    RelationType,
    UpdateEntry,
)

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parents[1] / "guidance" / "samples"
DOCUMENTS = Path(__file__).resolve().parent / "documents"
HTG501 = SAMPLES / "htg501.txt"


def history_row_count():
    from guidance.ledger import history_models  # noqa: PLC0415

    return sum(model.objects.count() for model in history_models())


def test_the_complete_sample_is_held_as_nice_published_it():
    result = import_guidance_file(HTG501)
    assert result.error is None

    htg501 = Guidance.objects.get(reference="HTG501")
    assert htg501.title.startswith("Percutaneous venoplasty for chronic cerebrospinal")
    assert htg501.programme.code == "HTG"
    assert htg501.status == GuidanceStatus.PUBLISHED
    assert (htg501.published_on, htg501.published_precision) == (datetime.date(2019, 1, 30), "day")
    assert htg501.last_updated_on is None  # the only update is minor
    assert htg501.isbn == "978-1-4731-8875-4"

    recommendation = htg501.blocks.get(kind=Block.Kind.RECOMMENDATION)
    assert (recommendation.number, recommendation.category) == ("1.1", "do not use")
    assert htg501.blocks.filter(kind=Block.Kind.RECOMMENDATION).count() == 1

    chapters = list(htg501.chapters.all())
    assert [c.number for c in chapters] == ["1", "2", "3"]
    assert chapters[0].slug == "1-recommendations"
    chapter_2 = [(b.kind, b.number or b.text) for b in chapters[1].blocks.all()]
    assert chapter_2 == [
        ("heading", "The condition"),
        ("paragraph", "2.1"),
        ("heading", "Current treatments"),
        ("paragraph", "2.2"),
        ("heading", "The procedure"),
        ("paragraph", "2.3"),
        ("paragraph", "2.4"),
    ]
    assert [b.number for b in chapters[2].blocks.all()] == ["", "3.1", "3.2", "3.3", "3.4"]
    assert (
        "under local anaesthesia and a vascular sheath" in chapters[1].blocks.get(number="2.4").text
    )

    (entry,) = htg501.update_entries.all()
    assert (entry.date, entry.precision, entry.kind) == (
        datetime.date(2026, 1, 1),
        "month",
        "minor",
    )
    assert "migrated to HealthTech guidance 501" in entry.text
    assert htg501.minor_changes_heading == "Minor changes after publication"

    (endorsement,) = htg501.endorsements.all()
    assert endorsement.organisation.name == "Healthcare Improvement Scotland"

    statement = htg501.programme.responsibility_statements.get()
    assert "Yellow Card Scheme" in statement.text


def test_former_and_replaced_references_are_stub_records_that_lead_to_htg501():
    import_guidance_file(HTG501)
    htg501 = Guidance.objects.get(reference="HTG501")
    ipg640 = Guidance.objects.get(reference="IPG640")
    ipg420 = Guidance.objects.get(reference="IPG420")
    assert ipg640.is_stub and ipg420.is_stub
    assert ipg640.title == "" and ipg640.published_on is None  # nothing invented

    migration = Relation.objects.get(source=ipg640, type=RelationType.MIGRATED_TO)
    assert migration.target == htg501
    assert (migration.effective_on, migration.effective_precision) == (
        datetime.date(2026, 1, 1),
        "month",
    )
    assert Relation.objects.get(source=htg501, type=RelationType.REPLACES).target == ipg420
    # "replaces IPG640" is the migration, not a second relation.
    assert not Relation.objects.filter(type=RelationType.REPLACES, target=ipg640).exists()


def test_a_replaced_documents_page_becomes_a_relation_to_its_successor():
    import_guidance_file(SAMPLES / "ipg346.md")
    ipg346 = Guidance.objects.get(reference="IPG346")
    relation = Relation.objects.get(target=ipg346)
    assert (relation.source.reference, relation.type) == ("IPG508", RelationType.REPLACES)
    assert relation.source.is_stub
    assert ipg346.status == GuidanceStatus.PUBLISHED  # NICE keeps the page of a replaced document
    assert ipg346.chapters.count() == 0


def test_the_abridged_medtech_sample_imports_with_its_recommendations_and_bullets():
    import_guidance_file(SAMPLES / "mtg1.md")
    mtg1 = Guidance.objects.get(reference="MTG1")
    assert mtg1.published_on is None  # the sample does not say
    assert mtg1.isbn == "978-1-4731-1212-4"
    recommendations = mtg1.blocks.filter(kind=Block.Kind.RECOMMENDATION)
    assert [r.number for r in recommendations] == ["1.1", "1.2", "1.3", "1.4"]
    assert recommendations.get(number="1.1").category == "case for adoption supported"
    assert len(recommendations.get(number="1.3").bullets) == 2
    intro = mtg1.chapters.get(number="1").blocks.first()
    assert (intro.kind, intro.number) == ("paragraph", "")  # not a recommendation


def test_a_guideline_keeps_its_shape_rationale_and_major_update():
    import_guidance_file(DOCUMENTS / "ng_shape.md")
    ng = Guidance.objects.get(reference="NG220")
    assert ng.summary.startswith("This guideline covers diagnosing and managing")
    assert (ng.last_updated_on, ng.last_updated_precision) == (datetime.date(2024, 3, 7), "day")
    assert [c.title for c in ng.chapters.all()] == [
        "Overview",
        "Recommendations",
        "Terms used in this guideline",
    ]
    recommendations = {b.number: b.category for b in ng.blocks.filter(kind="recommendation")}
    assert recommendations == {
        "1.1.1": "",
        "1.1.2": "offer",
        "1.1.3": "consider",
        "1.1.4": "do not offer",
        "1.2.1": "offer",
    }
    rationale = ng.blocks.get(kind=Block.Kind.RATIONALE)
    assert rationale.title == "Why the committee made the recommendations"
    assert rationale.text.count("\n\n") == 1
    assert list(ng.update_entries.values_list("kind", flat=True)) == ["major", "minor"]
    assert "Recommendation 1.1.4 is new." in ng.update_entries.first().text
    assert Relation.objects.get(source=ng).target.reference == "CG186"


def test_month_only_dates_are_not_given_a_day_and_old_layouts_import():
    import_guidance_file(DOCUMENTS / "ipg_old_shape.md")
    ipg = Guidance.objects.get(reference="IPG166")
    assert (ipg.published_on, ipg.published_precision) == (datetime.date(2006, 9, 1), "month")
    assert ipg.published_display == "September 2006"
    assert [c.number for c in ipg.chapters.all()] == ["1", "2", "4", "7"]  # gaps kept
    categories = list(ipg.blocks.filter(kind="recommendation").values_list("category", flat=True))
    assert categories == ["standard arrangements", "only in research"]
    assert ipg.endorsements.get().organisation.name == "Healthcare Improvement Scotland"


def test_withdrawn_text_imports_as_withdrawn_with_its_explanation():
    import_guidance_file(DOCUMENTS / "withdrawn_shape.md")
    ipg = Guidance.objects.get(reference="IPG12")
    assert ipg.status == GuidanceStatus.WITHDRAWN
    assert "no longer done in the NHS" in ipg.status_explanation


def test_html_comments_are_ignored():
    text = HTG501.read_text().replace(
        "# 1 Recommendations", "<!-- editor's note:\n# 9 Not a chapter\n-->\n# 1 Recommendations"
    )
    assert import_guidance_text(text).error is None
    assert not Chapter.objects.filter(number="9").exists()


def test_importing_an_unchanged_file_again_changes_nothing_and_writes_no_history():
    import_guidance_file(HTG501)
    changes, rows = ChangeSet.objects.count(), history_row_count()

    result = import_guidance_file(HTG501)

    assert not result.changed
    assert (ChangeSet.objects.count(), history_row_count()) == (changes, rows)


def test_importing_a_changed_file_records_exactly_the_differences(tmp_path):
    import_guidance_file(HTG501)
    changed = tmp_path / "htg501.txt"
    changed.write_text(
        HTG501.read_text().replace(
            "3.4 Submissions were received from 2", "3.4 Submissions came from 3"
        )
    )
    rows = history_row_count()

    result = import_guidance_file(changed)

    assert dict(result.updated) == {"paragraph": 1, "guidance": 1}  # its version moves
    assert not result.created and not result.deleted
    assert history_row_count() == rows + 2
    assert Guidance.objects.get(reference="HTG501").version == 2
    paragraph = Block.objects.get(number="3.4")
    latest = paragraph.history.first()
    assert latest.history_change_reason == "Imported from htg501.txt"
    assert latest.history_user.username == "system"
    assert "came from 3" in latest.text


def test_a_paragraph_renumbered_in_a_new_edition_is_replaced_not_duplicated(tmp_path):
    import_guidance_file(HTG501)
    changed = tmp_path / "htg501.txt"
    text = HTG501.read_text()
    changed.write_text(text.replace("- 3.2 The specialist", "- 3.5 The specialist"))
    result = import_guidance_file(changed)
    assert result.error is None
    assert sorted(
        Block.objects.filter(chapter__number="3")
        .exclude(number="")
        .values_list("number", flat=True)
    ) == ["3.1", "3.3", "3.4", "3.5"]


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("Just some notes about guidance.\n", 1, "expected the title as a heading"),
        ("# A title\n\nHealthTech guidance\n", 1, "no reference found"),
        ("# A title\n\nReference: HTG-X1\n", 3, "is not a guidance reference"),
        ("# A title\n\nReference: ZZZ1\n", 1, "unknown programme prefix 'ZZZ' in reference"),
        (
            "# A title\n\nReference: HTG1  \nPublished: 31 Februar 2019\n",
            4,
            "'31 Februar 2019' is not a date",
        ),
        (
            "# A title\n\nReference: HTG1\n\n# 1 Recommendations\n\n1.1 One.\n\n1.1 Again.\n",
            9,
            "paragraph number 1.1 appears twice",
        ),
        ("# A title\n\nReference: HTG1\n\nISBN: 978-1-4731-8875-5\n", 5, "not a valid ISBN"),
    ],
)
def test_strict_import_refuses_bad_input_with_the_file_line_and_what_was_expected(
    text, line, expected
):
    result = import_guidance_text(text, path="bad.md", strict=True)
    assert result.error is not None
    assert result.error.line == line
    assert expected in str(result.error)
    assert str(result.error).startswith(f"bad.md, line {line}: ")
    assert not Guidance.objects.exists() and not ChangeSet.objects.filter(source="import").exists()


def test_a_failure_late_in_a_file_leaves_nothing_of_that_file(monkeypatch):
    from guidance.interchange import importers  # noqa: PLC0415

    def explode(self, guidance):
        raise importers.InvalidDocument("injected failure")

    rows = history_row_count()
    monkeypatch.setattr(importers.DocumentWriter, "_responsibility", explode)
    result = import_guidance_file(HTG501)
    assert "injected failure" in str(result.error)
    assert not Guidance.objects.exists()
    assert not Block.objects.exists() and not UpdateEntry.objects.exists()
    assert history_row_count() == rows


def test_without_strict_odd_lines_are_kept_as_plain_text_and_reported_by_line():
    text = (
        "# A title\n\nReference: HTG1  \nPublished: 31 Februar 2019\n\n"
        "# 1 Recommendations\n\n1.1 One.\n\n1.1 Again.\n\nISBN: 978-1-4731-8875-5\n"
    )
    result = import_guidance_text(text, path="odd.md")
    assert result.error is None
    assert result.warning_lines() == [
        "odd.md, line 4: '31 Februar 2019' is not a date (expected e.g. '30 January 2019' or "
        "'January 2019'); kept as plain text",
        "odd.md, line 10: paragraph number 1.1 appears twice in chapter '1 Recommendations'; "
        "kept as plain text",
        "odd.md, line 12: '978-1-4731-8875-5' is not a valid ISBN (check digit or length); "
        "kept as plain text",
    ]
    htg1 = Guidance.objects.get(reference="HTG1")
    assert htg1.published_on is None and htg1.isbn == ""
    assert htg1.summary == "Published: 31 Februar 2019"
    blocks = [(b.kind, b.number, b.text) for b in htg1.blocks.all()]
    assert blocks == [
        ("recommendation", "1.1", "One."),
        ("paragraph", "", "1.1 Again."),
        ("paragraph", "", "ISBN: 978-1-4731-8875-5"),
    ]


def test_an_unknown_well_formed_prefix_becomes_a_programme_named_by_the_document():
    text = "# A briefing\n\nNICE pathway briefing  \nReference: NPB7\n\n# Summary\n\nWords.\n"
    result = import_guidance_text(text, path="npb7.md")
    assert result.error is None
    (warning,) = result.warning_lines()
    assert warning.startswith("npb7.md, line 1: unknown programme prefix 'NPB' in reference")
    assert "programme NPB ('NICE pathway briefing') created" in warning
    programme = Guidance.objects.get(reference="NPB7").programme
    assert (programme.code, programme.name) == ("NPB", "NICE pathway briefing")
    assert programme.history.get().history_change_reason == "Imported from npb7.md"


def test_nice_programmes_past_and_present_are_known():
    known = set(Programme.objects.values_list("code", flat=True))
    assert {
        *("IPG", "HTG", "MTG", "DG", "TA", "HST", "NG", "CG", "PH", "SC", "QS", "ES"),
        *("ESNM", "ESUOM", "ESMPB", "KTT", "MIB", "MPG", "CSG"),
    } <= known


def test_the_command_reports_every_file_and_exits_non_zero_if_any_failed(tmp_path, capsys):
    bad = tmp_path / "bad.md"
    bad.write_text("Some notes, not a document.\n\nReference: HTG1\n")
    good = tmp_path / "mtg1.md"
    shutil.copy(SAMPLES / "mtg1.md", good)

    with pytest.raises(CommandError, match="1 of 2 files not imported"):
        call_command("import_guidance", str(bad), str(good))

    captured = capsys.readouterr()
    assert "bad.md, line 1: not a guidance document: expected the title" in captured.err
    assert "MTG1: created" in captured.out
    assert Guidance.objects.filter(reference="MTG1").exists()


def test_dry_run_prints_what_would_change_and_writes_nothing(capsys):
    call_command("import_guidance", str(HTG501), "--dry-run")
    out = capsys.readouterr().out
    assert "would change HTG501: created 3 chapter" in out
    assert "+ paragraph HTG501 2.4" in out
    assert not Guidance.objects.exists() and not ChangeSet.objects.filter(source="import").exists()


def test_the_importer_records_the_user_given_and_why(django_user_model):
    editor = django_user_model.objects.create_user("importer-person")
    call_command("import_guidance", str(HTG501), "--user", "importer-person")
    change = ChangeSet.objects.get(source="import")
    assert (change.user, change.reason) == (editor, "Imported from htg501.txt")
    assert change.guidance.reference == "HTG501"


def test_an_import_keeps_a_relation_an_editor_recorded():
    import_guidance_file(HTG501)
    htg501 = Guidance.objects.get(reference="HTG501")
    mtg1 = import_guidance_file(SAMPLES / "mtg1.md") and Guidance.objects.get(reference="MTG1")
    with recording(reason="Read with MTG1"):
        Relation.objects.create(source=htg501, type=RelationType.READ_WITH, target=mtg1)
    import_guidance_file(HTG501)
    assert Relation.objects.filter(source=htg501, type=RelationType.READ_WITH).exists()


def test_load_samples_imports_every_sample(capsys):
    call_command("load_samples")
    references = set(Guidance.objects.values_list("reference", flat=True))
    assert {"HTG501", "IPG640", "IPG420", "MTG1", "IPG346", "IPG508"} <= references


def test_an_appraisal_keeps_its_rationale_tables_and_research_headings():
    result = import_guidance_file(DOCUMENTS / "ta_shape.md")
    assert result.error is None
    ta = Guidance.objects.get(reference="TA737")
    assert [c.number for c in ta.chapters.all()] == ["1", "2", "3", "5", "4"]  # as published
    assert ta.blocks.get(kind="recommendation").category == "optimised"
    rationale = ta.blocks.get(kind=Block.Kind.RATIONALE)
    assert rationale.chapter.number == "1"  # a rationale heading never starts a chapter
    table = ta.blocks.get(text__startswith="| Dose")
    assert table.text.splitlines()[2] == "| 200 mg | £5,260 |"
    research = [(b.kind, b.number, b.title) for b in ta.chapters.get(number="4").blocks.all()]
    assert research == [("research", "1", "Biomarkers"), ("research", "4.1", "")]


def test_a_chapter_heading_printed_twice_is_kept_as_a_heading_or_refused_when_strict():
    text = "# T\n\nReference: TA1\n\n# 1 Recommendations\n\n1.1 A.\n\n# 1 Recommendations\n"
    result = import_guidance_text(text, path="twice.md", strict=True)
    assert "same heading as an earlier chapter" in str(result.error)
    assert result.error.line == 9

    result = import_guidance_text(text, path="twice.md")
    assert result.warning_lines() == [
        "twice.md, line 9: chapter '1 Recommendations' has the same heading as an earlier "
        "chapter; kept as a heading in the chapter"
    ]
    (chapter,) = Chapter.objects.filter(guidance__reference="TA1")
    assert [(b.kind, b.text) for b in chapter.blocks.all()] == [
        ("recommendation", "A."),
        ("heading", "1 Recommendations"),
    ]


def test_a_document_under_a_reference_it_has_left_is_refused(tmp_path):
    import_guidance_file(HTG501)
    old = tmp_path / "ipg640.txt"
    old.write_text(HTG501.read_text().replace("guidance/htg501", "guidance/ipg640"))
    result = import_guidance_file(old)
    assert "IPG640 was migrated to HTG501 in January 2026: import the document under HTG501" in str(
        result.error
    )
    assert Guidance.objects.get(reference="IPG640").is_stub


def test_more_overview_text_under_the_title_is_kept_and_reported():
    text = "# T\n\nReference: TA1\n\nA summary.\n\nAnd then something else.\n"
    result = import_guidance_text(text, path="odd.md")
    assert result.warning_lines() == ["odd.md, line 7: kept as plain text in the overview"]
    assert Guidance.objects.get(reference="TA1").summary == "A summary.\n\nAnd then something else."
    strict = import_guidance_text(text.replace("TA1", "TA2"), path="odd.md", strict=True)
    assert str(strict.error) == (
        "odd.md, line 7: unexpected text before the first chapter: 'And then something else.'"
    )
