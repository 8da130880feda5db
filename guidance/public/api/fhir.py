"""A guidance as a FHIR R5 document Bundle, in the shapes of HL7's CPG-on-FHIR guide.

The Bundle holds a Composition (the document as published, a section per chapter and one for
the update information), NICE as its Organization, a PlanDefinition for the guideline and one
per recommendation (the guide's RecommendationDefinition profile: RecommendationDefinition is
not a resource of R5). It is made from the JSON contract, so it says what the contract says.
"""

import uuid

from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.text import slugify

from ...interchange.exporters import export_json
from ...models import GuidanceStatus

NICE = "National Institute for Health and Care Excellence"
XHTML = "http://www.w3.org/1999/xhtml"
PLAN_TYPES = "http://terminology.hl7.org/CodeSystem/plan-definition-type"
RECOMMENDATION_PROFILE = (
    "http://hl7.org/fhir/uv/cpg/StructureDefinition/cpg-recommendationdefinition"
)
WITHDRAWN = {status.value for status in GuidanceStatus if status.is_withdrawn}

# Our relation (as seen from the document) -> RelatedArtifact.type.
ARTIFACT_TYPES = {
    ("replaces", "outgoing"): "replaces",
    ("partially-replaces", "outgoing"): "replaces",
    ("replaces", "incoming"): "replaced-with",
    ("partially-replaces", "incoming"): "replaced-with",
    ("migrated-to", "incoming"): "predecessor",
    ("migrated-to", "outgoing"): "successor",
    ("read-with", "outgoing"): "documentation",
    ("read-with", "incoming"): "documentation",
    ("based-on", "outgoing"): "derived-from",
    ("based-on", "incoming"): "documentation",
}


def fhir_date(value):
    """A contract date {date, precision} as a FHIR date: 2019-01-30, 2026-01 or 2019."""
    if not value:
        return None
    length = {"day": 10, "month": 7, "year": 4}[value["precision"]]
    return value["date"][:length]


def narrative(html):
    return {"status": "generated", "div": f'<div xmlns="{XHTML}">{html}</div>'}


def block_html(block):
    if block["type"] == "heading":
        return f"<h3>{escape(' '.join(filter(None, [block['number'], block['text']])))}</h3>"
    html = ""
    if block.get("title"):
        html += f"<h3>{escape(block['title'])}</h3>"
    text = " ".join(filter(None, [block["number"], block["text"]]))
    if text:
        html += "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n"))
    if block.get("bullets"):
        html += "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in block["bullets"]) + "</ul>"
    return html


class DocumentBundle:
    """The Bundle of one document, with the absolute URLs its resources are known by."""

    def __init__(self, request, guidance):
        self.request = request
        self.guidance = guidance
        self.data = export_json(guidance)
        self.reference = self.data["reference"]
        self.fhir_base = request.build_absolute_uri(
            reverse("api:guidance-fhir", args=[self.reference.lower()])
        )
        self.status = self.data["status"]
        self.date = (
            fhir_date(self.data["last_updated"])
            or fhir_date(self.data["published"])
            or self.recorded_date()
        )

    def recorded_date(self):
        """For a record without a published date (a stub): when it was first recorded."""
        first = self.guidance.history.order_by("history_date").first()
        return (first.history_date if first else timezone.now()).date().isoformat()

    def full_url(self, resource_type, resource_id):
        name = self.canonical(resource_type, resource_id)
        return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"

    def canonical(self, resource_type, resource_id):
        return f"{self.fhir_base}{resource_type}/{resource_id}"

    def identifiers(self):
        system = self.request.build_absolute_uri(reverse("guidance:list"))
        identifiers = [{"use": "official", "system": system, "value": self.reference}]
        for relation in self.data["relations"]:
            if relation["type"] == "migrated-to" and relation["direction"] == "incoming":
                old = {"use": "old", "system": system, "value": relation["reference"]}
                if end := fhir_date(relation["effective"]):
                    old["period"] = {"end": end}
                identifiers.append(old)
        return identifiers

    def related_artifacts(self):
        artifacts = []
        for relation in self.data["relations"]:
            other = relation["reference"]
            artifacts.append(
                {
                    "type": ARTIFACT_TYPES[(relation["type"], relation["direction"])],
                    "label": other,
                    "display": relation["note"] or f"{relation['label'].capitalize()} {other}",
                    "resource": self.request.build_absolute_uri(
                        reverse("guidance:overview", args=[other.lower()])
                    ),
                }
            )
        return artifacts

    def recommendation_id(self, number):
        return f"{self.reference.lower()}-{slugify(number.replace('.', '-'))}"[:64]

    def recommendations(self):
        """A PlanDefinition per recommendation, in the order the document gives them."""
        active = "retired" if self.status in WITHDRAWN else "active"
        resources = []
        for index, recommendation in enumerate(self.data["recommendations"], start=1):
            number = recommendation["number"] or str(index)
            resource = {
                "resourceType": "PlanDefinition",
                "id": self.recommendation_id(number),
                "meta": {"profile": [RECOMMENDATION_PROFILE]},
                "url": self.canonical("PlanDefinition", self.recommendation_id(number)),
                "name": f"{self.reference}Recommendation{number.replace('.', '_')}",
                "title": f"{self.reference} recommendation {number}",
                "type": {"coding": [{"system": PLAN_TYPES, "code": "eca-rule"}]},
                "status": active,
                "date": self.date,
                "publisher": NICE,
                "description": recommendation["text"],
                "action": [
                    {"title": f"Recommendation {number}", "description": recommendation["text"]}
                ],
            }
            if recommendation["category"]:
                resource["topic"] = [{"text": recommendation["category"]}]
            resources.append(resource)
        return resources

    def composition(self, organisation_url, recommendation_urls):
        sections = []
        # The recommendations, in document order, as the sections meet them.
        urls = iter(recommendation_urls)
        for chapter in self.data["chapters"]:
            heading = " ".join(filter(None, [chapter["number"], chapter["title"]]))
            section = {
                "title": heading,
                "text": narrative("".join(block_html(b) for b in chapter["blocks"]) or "<p/>"),
            }
            if count := sum(b["type"] == "recommendation" for b in chapter["blocks"]):
                section["entry"] = [{"reference": next(urls)} for _ in range(count)]
            sections.append(section)
        if entries := self.data["update_information"]:
            html = "".join(f"<p>{escape(e['text'])}</p>" for e in entries)
            sections.append({"title": "Update information", "text": narrative(html)})
        composition = {
            "resourceType": "Composition",
            "id": self.reference.lower(),
            "url": self.request.build_absolute_uri(self.data["url"]),
            "identifier": self.identifiers(),
            "status": "deprecated" if self.status in WITHDRAWN else "final",
            "type": {"text": "Clinical practice guideline"},
            "category": [
                {
                    "coding": [{"code": self.data["programme"]["code"]}],
                    "text": self.data["programme"]["name"],
                }
            ],
            "date": self.date,
            "author": [{"reference": organisation_url, "display": NICE}],
            "title": self.data["title"] or self.reference,
            "relatesTo": self.related_artifacts(),
            "section": sections,
        }
        if self.data["summary"]:
            composition["text"] = narrative(f"<p>{escape(self.data['summary'])}</p>")
        return {k: v for k, v in composition.items() if v}

    def guideline(self, recommendations):
        plan = {
            "resourceType": "PlanDefinition",
            "id": self.reference.lower(),
            "url": self.canonical("PlanDefinition", self.reference.lower()),
            "identifier": self.identifiers(),
            "name": self.reference,
            "title": self.data["title"] or self.reference,
            "type": {"coding": [{"system": PLAN_TYPES, "code": "clinical-protocol"}]},
            "status": "retired" if self.status in WITHDRAWN else "active",
            "date": self.date,
            "publisher": NICE,
            "description": self.data["summary"],
            "relatedArtifact": self.related_artifacts(),
            "action": [
                {"title": r["action"][0]["title"], "definitionCanonical": r["url"]}
                for r in recommendations
            ],
        }
        if self.data["published"]:
            plan["approvalDate"] = self.data["published"]["date"]
        return {k: v for k, v in plan.items() if v}

    def as_json(self):
        organisation = {"resourceType": "Organization", "id": "nice", "name": NICE}
        organisation_url = self.full_url("Organization", "nice")
        recommendations = self.recommendations()
        recommendation_urls = [self.full_url("PlanDefinition", r["id"]) for r in recommendations]
        composition = self.composition(organisation_url, recommendation_urls)
        resources = [
            (self.full_url("Composition", composition["id"]), composition),
            (organisation_url, organisation),
            (
                self.full_url("PlanDefinition", self.reference.lower()),
                self.guideline(recommendations),
            ),
            *zip(recommendation_urls, recommendations, strict=True),
        ]
        return {
            "resourceType": "Bundle",
            "id": self.reference.lower(),
            "identifier": {"system": self.fhir_base, "value": self.reference},
            "type": "document",
            "timestamp": timezone.now().replace(microsecond=0).isoformat(),
            "entry": [{"fullUrl": url, "resource": resource} for url, resource in resources],
        }


def document_bundle(request, guidance):
    """The FHIR R5 document Bundle of a published guidance."""
    return DocumentBundle(request, guidance).as_json()
