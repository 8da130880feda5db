import pytest
from django.db import IntegrityError

from guidance.history import recording
from guidance.models import Block, Guidance, Programme, Relation, RelationType, normalise_reference
from tests.factories import make_chapter, make_guidance

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("given", "stored"),
    [("HTG501", "HTG501"), ("ipg0640", "IPG640"), (" ng 203 ", "NG203"), ("Ta-1000", "TA1000")],
)
def test_references_are_stored_normalised(given, stored):
    assert normalise_reference(given) == stored


def test_a_reference_is_unique_whatever_its_spelling():
    make_guidance("IPG640")
    with pytest.raises(IntegrityError), recording(reason="Duplicate"):
        Guidance.objects.create(
            reference="ipg0640", programme=Programme.objects.get(code="IPG"), number=640
        )


def test_a_paragraph_number_appears_once_in_a_chapter():
    guidance = make_guidance()
    chapter = make_chapter(guidance, blocks=[(Block.Kind.PARAGRAPH, "2.1", "One.")])
    with pytest.raises(IntegrityError), recording(reason="Duplicate number"):
        Block.objects.create(
            guidance=guidance, chapter=chapter, position=2, number="2.1", text="Two."
        )


def test_unnumbered_paragraphs_may_share_a_chapter():
    guidance = make_guidance()
    chapter = make_chapter(
        guidance, blocks=[(Block.Kind.PARAGRAPH, "", "One."), (Block.Kind.PARAGRAPH, "", "Two.")]
    )
    assert chapter.blocks.count() == 2


def test_a_document_cannot_relate_to_itself():
    guidance = make_guidance()
    with pytest.raises(IntegrityError), recording(reason="Self relation"):
        Relation.objects.create(source=guidance, type=RelationType.REPLACES, target=guidance)


def test_only_recommendations_carry_a_category():
    guidance = make_guidance()
    chapter = make_chapter(guidance)
    with pytest.raises(IntegrityError), recording(reason="Category on a paragraph"):
        Block.objects.create(
            guidance=guidance,
            chapter=chapter,
            position=1,
            kind=Block.Kind.PARAGRAPH,
            text="x",
            category="do not use",
        )


def test_programmes_are_loaded_with_nices_prefixes():
    codes = set(Programme.objects.values_list("code", flat=True))
    assert {"HTG", "IPG", "MTG", "DG", "TA", "NG", "HST", "CG", "PH", "SC", "QS"} <= codes
    assert Programme.objects.get(code="HTG").name == "HealthTech guidance"
