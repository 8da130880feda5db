import datetime
from pathlib import Path

import pytest

from guidance.interchange.importers import import_guidance_file, import_guidance_text
from guidance.models import Guidance, GuidanceStatus, Relation, RelationType

pytestmark = pytest.mark.django_db

DOCUMENTS = Path(__file__).resolve().parent / "documents"


def test_overview_lines_are_kept_as_what_they_are_and_never_refuse_the_file():
    result = import_guidance_file(DOCUMENTS / "cg_overview_shape.md")
    assert result.error is None

    cg = Guidance.objects.get(reference="CG127")
    assert (cg.published_on, cg.published_precision) == (datetime.date(2011, 8, 1), "month")
    assert (cg.last_reviewed_on, cg.last_reviewed_precision) == (datetime.date(2019, 6, 4), "day")
    assert (cg.review_decision_on, cg.review_decision_precision) == (
        datetime.date(2021, 3, 1),
        "month",
    )
    assert cg.notice_paragraphs == [
        "March 2020: the MHRA has issued a warning about the safety of a medicine named in "
        "recommendation 1.6.2."
    ]
    assert cg.summary.startswith("This guideline covers identifying and treating")
    assert cg.last_updated_on is None  # its only major entry is its publication month
    relation = Relation.objects.get(source=cg)
    assert (relation.type, relation.target.reference) == (RelationType.REPLACES, "CG34")
    assert relation.target.is_stub
    assert [b.kind for b in cg.blocks.all()] == ["heading", "recommendation", "recommendation"]
    assert result.warning_lines() == [
        f"{DOCUMENTS / 'cg_overview_shape.md'}, line 16: kept as plain text in the overview"
    ]


@pytest.mark.parametrize(
    ("line", "relations"),
    [
        (
            "This guideline updates and replaces NICE clinical guideline\u00a0160.",
            {("NG99", "replaces", "CG160")},
        ),
        (
            "This clinical guideline updates and replaces NICE technology appraisal 85 and NICE "
            "technology appraisal guidance 100.",
            {("NG99", "replaces", "TA85"), ("NG99", "replaces", "TA100")},
        ),
        (
            "This guidance has been updated and replaced by NICE technology appraisal 123.",
            {("TA123", "replaces", "NG99")},
        ),
        (
            "This guideline partially replaces NICE public health guidance 5.",
            {("NG99", "partially-replaces", "PH5")},
        ),
        ("This guideline replaces CG160 (May 2013)", {("NG99", "replaces", "CG160")}),
        ("This guideline is the basis of QS122.", {("QS122", "based-on", "NG99")}),
        (
            "Medical technologies guidance 20 has been migrated to NICE guideline 99.",
            {("MTG20", "migrated-to", "NG99")},
        ),
    ],
)
def test_notices_in_any_of_nices_phrasings_make_relations_and_stubs(line, relations):
    overview = (
        f"# A guideline\n\nNICE guideline  \nReference: NG99\n\n{line}\n\n"
        "# 1 Recommendations\n\n1.1 Offer it.\n"
    )
    in_updates = (
        "# A guideline\n\nNICE guideline  \nReference: NG99\n\n# 1 Recommendations\n\n"
        f"1.1 Offer it.\n\n# Update information\n\n{line}\n\nMay 2020: A link was corrected.\n"
    )
    for number, text in enumerate((overview, in_updates)):
        text = text.replace("NG99", f"NG{99 + number}").replace(
            "guideline 99", f"guideline {99 + number}"
        )
        result = import_guidance_text(text, path="ng.md")
        assert result.error is None and not result.warnings, result.warnings
        reference = f"NG{99 + number}"
        found = {
            (r.source.reference, r.type, r.target.reference)
            for r in Relation.objects.filter(source__reference=reference)
            | Relation.objects.filter(target__reference=reference)
        }
        expected = {tuple(part.replace("NG99", reference) for part in r) for r in relations}
        assert found == expected
        others = {ref for r in expected for ref in (r[0], r[2])} - {reference}
        assert all(Guidance.objects.get(reference=other).is_stub for other in others)


def test_a_terminated_appraisals_advice_is_its_explanation_not_its_summary():
    text = (
        "# Drug X for condition Y (terminated appraisal)\n\nTechnology appraisal guidance  \n"
        "Reference: TA500\n\nNICE is unable to make a recommendation about the use in the NHS "
        "of drug X for condition Y because no evidence submission was received from the "
        "company.\n"
    )
    assert import_guidance_text(text).error is None
    ta = Guidance.objects.get(reference="TA500")
    assert ta.status == GuidanceStatus.TERMINATED
    assert ta.status_explanation.startswith("NICE is unable to make a recommendation")
    assert ta.summary == ""


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ("This guideline has been withdrawn.", GuidanceStatus.WITHDRAWN),
        (
            "This technology appraisal guidance has been temporarily withdrawn.",
            "temporarily-withdrawn",
        ),
        ("NICE has withdrawn this guidance because it is out of date.", GuidanceStatus.WITHDRAWN),
        ("This guidance has been retired.", GuidanceStatus.RETIRED),
    ],
)
def test_withdrawn_and_retired_wordings_are_read_from_the_text(line, status):
    text = (
        f"# T\n\nTechnology appraisal guidance  \nReference: TA7\n\n{line}\n\n"
        "# 1 Guidance\n\n1.1 A.\n"
    )
    assert import_guidance_text(text).error is None
    ta = Guidance.objects.get(reference="TA7")
    assert (ta.status, ta.status_explanation) == (status, line)


@pytest.mark.parametrize(
    ("lines", "last_updated"),
    [
        ("Published: 1 June 2015", None),
        (
            "Published: 1 June 2015  \nLast updated: 9 August 2021",
            (datetime.date(2021, 8, 9), "day"),
        ),
        ("Date issued: June 2015", None),
        ("Issued: May 2013", (datetime.date(2015, 6, 1), "month")),
        ("Reference: NG5", None),  # no published date: 'after publication' cannot be told
    ],
)
def test_last_updated_is_only_stated_or_a_dated_major_update_after_publication(lines, last_updated):
    text = (
        f"# T\n\nNICE guideline  \n{lines}\n\n[www.nice.org.uk/guidance/ng5](x)\n\n"
        "# 1 Recommendations\n\n1.1 Offer it.\n\n# Update information\n\n"
        "June 2015: The guideline was published.\n\n## Minor changes since publication\n\n"
        "May 2022: A link was corrected.\n"
    )
    result = import_guidance_text(text, path="ng5.md")
    assert result.error is None and not result.warnings
    ng5 = Guidance.objects.get(reference="NG5")
    stated = (ng5.last_updated_on, ng5.last_updated_precision) if ng5.last_updated_on else None
    assert stated == last_updated


def test_numbered_section_lines_above_their_recommendations_are_headings():
    text = (
        "# T\n\nNICE guideline  \nReference: NG6\n\n# 1 Recommendations\n\n"
        "1.1 Recognition of the condition\n\n1.1.1 Offer a test.\n\n1.1.2 Consider another.\n\n"
        "1.2 Monitoring\n\n1.2.1 Offer an annual review.\n"
    )
    assert import_guidance_text(text).error is None
    blocks = Guidance.objects.get(reference="NG6").blocks.all()
    assert [(b.kind, b.number) for b in blocks] == [
        ("heading", "1.1"),
        ("recommendation", "1.1.1"),
        ("recommendation", "1.1.2"),
        ("heading", "1.2"),
        ("recommendation", "1.2.1"),
    ]


def test_a_withdrawn_documents_own_page_is_a_document_not_a_stub():
    text = (
        "# IPG12\n\nInterventional procedures guidance  \nReference: IPG12\n\n# Guidance\n\n"
        "This guidance has been withdrawn because the procedure is no longer done.\n"
    )
    assert import_guidance_text(text).error is None
    ipg12 = Guidance.objects.get(reference="IPG12")
    assert (ipg12.status, ipg12.is_stub, ipg12.chapters.count()) == ("withdrawn", False, 0)
