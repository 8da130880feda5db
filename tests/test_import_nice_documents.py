"""Real NICE documents of each programme and era, imported and exported as a user would,
compared fact by fact with what each document states (see documents/nice/README.md)."""

import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from guidance.interchange.importers import import_guidance_file, import_guidance_text
from guidance.models import ChangeSet, Guidance

pytestmark = pytest.mark.django_db

NICE = Path(__file__).resolve().parent / "documents" / "nice"
SAMPLES = Path(__file__).resolve().parents[1] / "guidance" / "samples"
EVERY_DOCUMENT = [
    *sorted(path for path in NICE.glob("*.md") if path.name != "README.md"),
    SAMPLES / "htg501.txt",
    SAMPLES / "mtg1.md",
    SAMPLES / "ipg346.md",
    *sorted((NICE.parent).glob("*.md")),
]


def imported(path, capsys):
    """Import a file with the command, then return its JSON export."""
    call_command("import_guidance", str(path))
    reference = re.search(r"^(\S+):", capsys.readouterr().out.split(": ", 1)[1]).group(1)
    call_command("export_guidance", reference, "--format", "json")
    return json.loads(capsys.readouterr().out)


def day(date):
    return {"date": date, "precision": "day"}


def month(date):
    return {"date": f"{date}-01", "precision": "month"}


def blocks(record, chapter_title):
    chapter = next(c for c in record["chapters"] if c["title"] == chapter_title)
    return [
        (b["type"], b.get("level"), b["number"], b.get("title") or b["text"][:40])
        for b in chapter["blocks"]
    ]


def updates(record):
    return [(u["date"], u["precision"], u["kind"]) for u in record["update_information"]]


def test_a_guideline_with_recommendations_sections_and_research_questions(capsys):
    record = imported(NICE / "ng20.md", capsys)

    assert record["reference"] == "NG20"
    assert record["title"] == "Coeliac disease: recognition, assessment and management"
    assert record["programme"] == {"code": "NG", "name": "NICE guideline"}
    assert record["published"] == day("2015-09-02")
    assert record["last_updated"] is None  # the document states none; its updates are minor
    assert (record["isbn"], record["summary"], record["relations"]) == (None, None, [])
    assert [c["title"] for c in record["chapters"]] == [
        "Key priorities for implementation",
        "Recommendations",
        "Recommendations for research",
    ]
    assert [(r["number"], r["category"]) for r in record["recommendations"]] == [
        ("1.1.1", "offer"),
        ("1.1.2", "consider"),
        ("1.1.3", None),
        ("1.1.4", None),
    ]
    assert ("heading", 1, "1.1", "Recognition of coeliac disease") in blocks(
        record, "Recommendations"
    )
    assert blocks(record, "Recommendations for research")[1:4] == [
        ("research", 1, "1", "Serological testing in people who have IgA deficiency"),
        ("heading", 2, None, "Why this is important"),
        ("paragraph", None, None, "IgA deficiency is significantly more com"),
    ]
    research = record["research_recommendations"]
    assert [(r["number"], r["chapter"]) for r in research] == [
        ("1", "recommendations-for-research"),
        ("2", "recommendations-for-research"),
    ]
    assert research[0]["text"].startswith("What is the sensitivity and specificity of IgG")
    assert updates(record) == [("2020-01-01", "month", "minor"), ("2016-02-01", "month", "minor")]


def test_recommendation_numbers_on_a_line_of_their_own_are_read_as_inline_ones(capsys):
    inline = imported(NICE / "ng20.md", capsys)["recommendations"]
    text = (NICE / "ng20.md").read_text()
    own_line = re.sub(r"^(1\.1\.\d) ", r"\1\n\n", text, flags=re.MULTILINE)
    assert own_line.count("\n1.1.1\n") == 1
    result = import_guidance_text(own_line.replace("ng20", "ng21"), path="ng21.md")
    assert result.error is None and not result.warnings
    ng21 = Guidance.objects.get(reference="NG21")
    assert [
        {"number": r.number, "text": r.text, "category": r.category or None}
        for r in ng21.blocks.filter(kind="recommendation")
    ] == inline


def test_a_guideline_that_updates_and_replaces_a_clinical_guideline(capsys):
    record = imported(NICE / "ng143.md", capsys)

    assert record["published"] == day("2019-11-07")
    assert record["last_updated"] is None  # its major entries are not after publication
    assert record["isbn"] is None
    (relation,) = record["relations"]
    assert (relation["type"], relation["direction"], relation["reference"]) == (
        "replaces",
        "outgoing",
        "CG160",
    )
    assert relation["note"] == "This guideline updates and replaces NICE guideline CG160 (May 2013)"
    cg160 = Guidance.objects.get(reference="CG160")
    assert cg160.is_stub and cg160.title == "" and cg160.published_on is None
    (notice,) = record["notices"]
    assert notice["date"] == month("2021-11")
    assert notice["text"].startswith("November 2021: We added a definition of sepsis")
    assert record["summary"].startswith("This guideline covers the assessment")
    assert [c["title"] for c in record["chapters"]] == [
        "Recommendations for research",
        "Rationale and impact",
    ]
    research = record["research_recommendations"]
    assert [r["number"] for r in research] == ["1", "2", "3", "4", "5", None, None, None]
    assert research[0]["text"].endswith("[2013]")
    assert research[5]["title"] == "Thermometers and the detection of fever"
    assert ("heading", 1, None, "Other recommendations for research") in blocks(
        record, "Recommendations for research"
    )
    assert ("rationale", 2, None, "Why the committee made the recommendations") in blocks(
        record, "Rationale and impact"
    )
    assert updates(record) == [
        ("2019-11-01", "month", "major"),
        ("2017-08-01", "month", "major"),
        ("2024-03-01", "month", "minor"),
        ("2024-01-01", "month", "minor"),
        ("2022-10-01", "month", "minor"),
    ]
    assert "In recommendation 1.5.16 we updated" in record["update_information"][-1]["text"]
    assert record["minor_changes_heading"] == "Minor updates since publication"


def test_a_quality_standard_keeps_its_heading_levels_and_day_dates(capsys):
    record = imported(NICE / "qs161.md", capsys)

    assert (record["reference"], record["title"]) == ("QS161", "Sepsis")
    assert record["programme"]["code"] == "QS"
    assert record["published"] is None and record["last_updated"] is None
    assert [c["title"] for c in record["chapters"]] == [
        "Quality statement 1: Assessment",
        "Quality statement 2: Senior review and antibiotic treatment",
        "Quality statement 4: Escalation of care",
    ]
    headings = [
        (b[1], b[3])
        for b in blocks(record, "Quality statement 4: Escalation of care")
        if b[0] == "heading"
    ]
    assert headings == [
        (1, "Quality statement"),
        (1, "Quality measures"),
        (2, "Structure"),
        (2, "Process"),
    ]
    assert record["recommendations"] == []
    assert updates(record) == [
        ("2020-06-18", "day", "major"),
        ("2021-01-01", "month", "minor"),
        ("2020-07-30", "day", "minor"),
    ]


def test_a_terminated_appraisal_says_so_and_invents_nothing(capsys):
    record = imported(NICE / "ta972.md", capsys)

    assert (record["reference"], record["programme"]["code"]) == ("TA972", "TA")
    assert record["status"] == "terminated"  # stated only by the wording of the text
    assert record["title"] is None and record["summary"] is None
    assert record["published"] is None and record["last_updated"] is None
    assert record["isbn"] == "978-1-4731-8441-1"
    assert record["recommendations"] == [] and record["is_stub"] is False
    assert blocks(record, "Advice") == [
        ("paragraph", None, None, "NICE is unable to make a recommendation "),
        ("heading", 1, None, "Information"),
        ("paragraph", None, None, "If NHS organisations wish to consider si"),
    ]


def test_an_evidence_summary_of_a_retired_programme(capsys):
    record = imported(NICE / "esuom1.md", capsys)

    assert record["reference"] == "ESUOM1"
    assert record["title"] == "ESUOM1: Significant haemorrhage following trauma: tranexamic acid"
    assert record["programme"] == {
        "code": "ESUOM",
        "name": "Evidence summary: unlicensed or off-label medicine",
    }
    assert record["published"] == day("2012-10-16")
    assert record["recommendations"] == [] and record["relations"] == []
    assert [c["number"] for c in record["chapters"]] == [None] * 4
    (notice,) = record["notices"]
    assert notice["date"] is None and "is not NICE guidance" in notice["text"]
    text = record["chapters"][1]["blocks"][3]["text"]
    assert text.endswith("for short-term use in[1]:")


def test_a_guideline_with_last_updated_isbn_and_a_2015_research_chapter(capsys):
    record = imported(NICE / "ng9.md", capsys)

    assert record["published"] == day("2015-06-01")
    assert record["last_updated"] == day("2021-08-09")
    assert record["isbn"] == "978-1-4731-1162-2"
    (relation,) = record["relations"]
    assert (relation["type"], relation["label"], relation["reference"]) == (
        "based-on",
        "is the basis of",
        "QS122",
    )
    assert [r["number"] for r in record["recommendations"]] == [f"1.1.{n}" for n in range(1, 8)]
    assert record["recommendations"][0]["text"].endswith("[2015]")
    assert record["recommendations"][5]["category"] == "consider"
    assert [c["number"] for c in record["chapters"]] == ["1", "2", None]
    research = record["research_recommendations"]
    assert [(r["number"], r["chapter"]) for r in research] == [
        ("2.1", "2-research-recommendations"),
        ("2.2", "2-research-recommendations"),
        ("2.3", "2-research-recommendations"),
    ]
    assert updates(record) == [
        ("2021-08-01", "month", "major"),
        ("2022-05-01", "month", "minor"),
        ("2019-11-01", "month", "minor"),
    ]


def test_the_medtech_sample_puts_further_research_in_its_category(capsys):
    record = imported(SAMPLES / "mtg1.md", capsys)
    categories = {r["number"]: r["category"] for r in record["recommendations"]}
    assert categories["1.1"] == "case for adoption supported"
    assert categories["1.4"] == "further research recommended"
    assert categories["1.2"] is None  # 'should be considered' states no category
    assert record["published"] is None and record["last_updated"] is None


@pytest.mark.parametrize("path", EVERY_DOCUMENT, ids=lambda path: path.name)
def test_import_export_text_import_again_writes_nothing(path, tmp_path, capsys):
    record = imported(path, capsys)
    call_command("export_guidance", record["reference"], "--format", "text")
    exported = tmp_path / f"{record['reference']}.md"
    exported.write_text(capsys.readouterr().out)
    changes = ChangeSet.objects.count()

    result = import_guidance_file(exported)

    assert result.error is None
    assert not result.changed, result.changes
    assert ChangeSet.objects.count() == changes
    call_command("export_guidance", record["reference"], "--format", "json")
    assert json.loads(capsys.readouterr().out) == record
