"""Each public guidance as a FHIR R5 document Bundle, validated with fhir.resources."""

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from fhir.resources.bundle import Bundle

from guidance.models import Guidance, GuidanceStatus
from tests.factories import make_document

pytestmark = pytest.mark.django_db

DOCUMENTS = Path(__file__).resolve().parent / "documents"


@pytest.fixture
def samples():
    call_command("load_samples", stdout=io.StringIO(), stderr=io.StringIO())
    call_command("import_guidance", *map(str, sorted(DOCUMENTS.glob("*.md"))), stdout=io.StringIO())


def bundle_of(client, reference):
    response = client.get(f"/api/v1/guidance/{reference}/fhir/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    return Bundle.model_validate_json(response.content)


def resources(bundle, resource_type):
    return [e.resource for e in bundle.entry if e.resource.get_resource_type() == resource_type]


def test_every_public_document_is_a_valid_fhir_r5_document_bundle(client, samples):
    references = Guidance.objects.published().exclude(reference="IPG640")
    assert references.count() >= 6
    for reference in references.values_list("reference", flat=True):
        bundle = bundle_of(client, reference.lower())
        assert bundle.type == "document"
        composition = bundle.entry[0].resource
        assert composition.get_resource_type() == "Composition"
        # Every reference in the document resolves inside the Bundle.
        full_urls = {entry.fullUrl for entry in bundle.entry}
        assert composition.author[0].reference in full_urls
        for section in composition.section or []:
            assert {entry.reference for entry in section.entry or []} <= full_urls


def test_htg501_has_a_section_per_chapter_and_a_recommendation_definition_each(client, samples):
    bundle = bundle_of(client, "htg501")
    exported = client.get("/api/v1/guidance/htg501/").json()
    composition = bundle.entry[0].resource

    assert composition.title == exported["title"]
    assert composition.status == "final"
    assert str(composition.date) == "2019-01-30"
    chapter_titles = [
        " ".join(filter(None, [chapter["number"], chapter["title"]]))
        for chapter in exported["chapters"]
    ]
    assert [s.title for s in composition.section] == [*chapter_titles, "Update information"]
    recommendations = [
        p for p in resources(bundle, "PlanDefinition") if p.type.coding[0].code == "eca-rule"
    ]
    assert [p.description for p in recommendations] == [
        r["text"] for r in exported["recommendations"]
    ]
    assert all(
        p.meta.profile
        == ["http://hl7.org/fhir/uv/cpg/StructureDefinition/cpg-recommendationdefinition"]
        for p in recommendations
    )
    recommendation_section = composition.section[0]
    assert len(recommendation_section.entry) == len(recommendations)
    # The guideline's plan names each recommendation by its canonical URL.
    (guideline,) = [
        p for p in resources(bundle, "PlanDefinition") if p.type.coding[0].code != "eca-rule"
    ]
    assert [a.definitionCanonical for a in guideline.action] == [p.url for p in recommendations]
    # What it replaces, and the reference it was migrated from.
    related = {(a.type, a.label) for a in composition.relatesTo}
    assert {("replaces", "IPG420"), ("predecessor", "IPG640")} <= related
    assert {(a.type, a.label) for a in guideline.relatedArtifact} == related
    identifiers = {(i.use, i.value) for i in composition.identifier}
    assert identifiers == {("official", "HTG501"), ("old", "IPG640")}


def test_a_replaced_reference_says_what_replaced_it(client, samples):
    composition = bundle_of(client, "ipg420").entry[0].resource
    assert [(a.type, a.label) for a in composition.relatesTo] == [("replaced-with", "HTG501")]


def test_withdrawn_guidance_is_deprecated_and_its_recommendations_retired(client):
    make_document("IPG100", status=GuidanceStatus.WITHDRAWN, status_explanation="No longer done.")
    bundle = bundle_of(client, "ipg100")
    assert bundle.entry[0].resource.status == "deprecated"
    assert {p.status for p in resources(bundle, "PlanDefinition")} == {"retired"}


def test_text_in_the_narrative_is_escaped(client, as_editor):
    guidance = make_document("IPG101")
    with as_editor():
        block = guidance.blocks.get(number="2.1")
        block.text = "Use <script>alert(1)</script> & check."
        block.save()
    bundle = bundle_of(client, "ipg101")
    div = bundle.entry[0].resource.section[1].text.div
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; check." in div
    assert "<script>" not in div


def test_a_former_reference_redirects_to_the_current_bundle(client, samples):
    response = client.get("/api/v1/guidance/IPG640/fhir/")
    assert response.status_code == 301
    assert response["Location"] == "http://testserver/api/v1/guidance/htg501/fhir/"
