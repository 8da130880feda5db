"""The shapes of the API's answers, as OpenAPI 3.1 (JSON Schema 2020-12) components.

Objects allow properties beyond those listed: the JSON contract only ever adds keys.
"""

from ...models import (
    PUBLIC_STATUSES,
    Block,
    ChangeKind,
    DatePrecision,
    RecommendationCategory,
    RelationType,
)

STRING = {"type": "string"}
OPTIONAL_STRING = {"type": ["string", "null"]}
STATUS = {"type": "string", "enum": [status.value for status in PUBLIC_STATUSES]}
PARTS = ["chapters", "endorsements", "record", "relations", "update_information"]
EVENT_TYPES = [
    "published",
    "updated",
    "migrated",
    RelationType.REPLACES.value,
    RelationType.PARTIALLY_REPLACES.value,
    "replaced-by",
    "partially-replaced-by",
    *(status.value for status in PUBLIC_STATUSES if status.is_withdrawn),
]


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(name):
    return {"oneOf": [ref(name), {"type": "null"}]}


def obj(properties, description=""):
    schema = {"type": "object", "required": list(properties), "properties": properties}
    if description:
        schema["description"] = description
    return schema


def part_of_document(key, item):
    return obj({"reference": STRING, key: {"type": "array", "items": ref(item)}})


COMPONENTS = {
    "Error": obj({"detail": STRING}),
    "RefusedSearch": obj(
        {
            "detail": STRING,
            "errors": {
                "type": "object",
                "description": "Per field, what was wrong.",
                "additionalProperties": {
                    "type": "array",
                    "items": obj({"message": STRING, "code": STRING}),
                },
            },
        }
    ),
    "DateWithPrecision": obj(
        {
            "date": {"type": "string", "format": "date"},
            "precision": {"type": "string", "enum": DatePrecision.values},
        },
        "A date known to the day, month or year: the day or month is 1 when not known.",
    ),
    "Programme": obj({"code": STRING, "name": STRING}),
    "GuidanceSummary": obj(
        {
            "reference": STRING,
            "title": STRING,
            "summary": STRING,
            "programme": ref("Programme"),
            "status": STATUS,
            "is_stub": {"type": "boolean"},
            "published": nullable("DateWithPrecision"),
            "last_updated": nullable("DateWithPrecision"),
            "url": {"type": "string", "description": "The guidance page on this site."},
            "api_url": {"type": "string", "format": "uri"},
        }
    ),
    "GuidanceList": obj(
        {
            "count": {"type": "integer", "minimum": 0},
            "next": {"type": ["string", "null"], "format": "uri"},
            "previous": {"type": ["string", "null"], "format": "uri"},
            "results": {"type": "array", "items": ref("GuidanceSummary")},
        }
    ),
    "Block": {
        "type": "object",
        "required": ["type", "number", "text"],
        "properties": {
            "type": {"type": "string", "enum": Block.Kind.values},
            "number": OPTIONAL_STRING,
            "text": STRING,
            "title": STRING,
            "level": {
                "type": "integer",
                "minimum": 1,
                "description": "Of a heading, rationale or research recommendation: 1 directly "
                "under the chapter's heading, 2 under a level 1 heading, and so on.",
            },
            "bullets": {"type": "array", "items": STRING},
            "category": {"type": "string", "enum": RecommendationCategory.values},
        },
    },
    "Chapter": obj(
        {
            "number": OPTIONAL_STRING,
            "title": STRING,
            "slug": STRING,
            "blocks": {"type": "array", "items": ref("Block")},
        }
    ),
    "Recommendation": obj(
        {
            "number": STRING,
            "text": STRING,
            "category": {"enum": [*RecommendationCategory.values, None]},
        }
    ),
    "ResearchRecommendation": obj(
        {
            "number": OPTIONAL_STRING,
            "title": OPTIONAL_STRING,
            "text": STRING,
            "chapter": {"type": "string", "description": "The slug of the chapter it is in."},
        }
    ),
    "Relation": obj(
        {
            "type": {"type": "string", "enum": RelationType.values},
            "label": STRING,
            "direction": {"type": "string", "enum": ["outgoing", "incoming"]},
            "reference": STRING,
            "effective": nullable("DateWithPrecision"),
            "note": STRING,
        },
        "Outgoing: this document <type> the other; incoming: the other <type> this one.",
    ),
    "UpdateEntry": obj(
        {
            "date": {"type": "string", "format": "date"},
            "precision": {"type": "string", "enum": DatePrecision.values},
            "kind": {"type": "string", "enum": ChangeKind.values},
            "text": STRING,
        }
    ),
    "Endorsement": obj({"organisation": STRING, "statement": STRING}),
    "Guidance": obj(
        {
            "reference": STRING,
            "number": {"type": "integer", "description": "The number in the reference."},
            "title": OPTIONAL_STRING,
            "summary": OPTIONAL_STRING,
            "programme": ref("Programme"),
            "status": STATUS,
            "status_explanation": OPTIONAL_STRING,
            "is_stub": {"type": "boolean"},
            "published": nullable("DateWithPrecision"),
            "last_updated": nullable("DateWithPrecision"),
            "review_decision": nullable("DateWithPrecision"),
            "last_reviewed": nullable("DateWithPrecision"),
            "notices": {
                "type": "array",
                "items": obj({"date": nullable("DateWithPrecision"), "text": STRING}),
            },
            "isbn": OPTIONAL_STRING,
            "minor_changes_heading": {
                "type": "string",
                "description": "The heading of the minor changes in the update information, as "
                "the document words it.",
            },
            "url": STRING,
            "former_references": {"type": "array", "items": STRING},
            "relations": {"type": "array", "items": ref("Relation")},
            "recommendations": {"type": "array", "items": ref("Recommendation")},
            "research_recommendations": {
                "type": "array",
                "items": ref("ResearchRecommendation"),
            },
            "chapters": {"type": "array", "items": ref("Chapter")},
            "update_information": {"type": "array", "items": ref("UpdateEntry")},
            "endorsements": {"type": "array", "items": ref("Endorsement")},
            "your_responsibility": {
                "oneOf": [
                    obj({"applies_from": nullable("DateWithPrecision"), "text": STRING}),
                    {"type": "null"},
                ]
            },
        },
        "The JSON contract of `export_guidance --format json`: keys are only ever added.",
    ),
    "Chapters": part_of_document("chapters", "Chapter"),
    "Recommendations": part_of_document("recommendations", "Recommendation"),
    "Relations": part_of_document("relations", "Relation"),
    "UpdateInformation": part_of_document("update_information", "UpdateEntry"),
    "HistoryEvent": obj(
        {
            "type": {"type": "string", "enum": EVENT_TYPES},
            "date": nullable("DateWithPrecision"),
            "reference": {
                "type": "string",
                "description": "The document's reference at the time, e.g. IPG640 before its "
                "migration to HTG501.",
            },
            "text": STRING,
            "related": {**OPTIONAL_STRING, "description": "The other document's reference."},
            "kind": {"enum": [*ChangeKind.values, None]},
        }
    ),
    "History": part_of_document("events", "HistoryEvent"),
    "Change": obj(
        {
            "cursor": STRING,
            "changed_at": {"type": "string", "format": "date-time"},
            "kind": {"enum": [*ChangeKind.values, None]},
            "guidance": {
                "type": "array",
                "items": obj(
                    {
                        "reference": STRING,
                        "status": STATUS,
                        "is_stub": {"type": "boolean"},
                        "api_url": {"type": "string", "format": "uri"},
                        "parts": {"type": "array", "items": {"type": "string", "enum": PARTS}},
                    }
                ),
            },
            "programmes": {
                "type": "array",
                "items": STRING,
                "description": "Programmes whose name or 'Your responsibility' wording "
                "changed: every document of theirs reads differently.",
            },
        }
    ),
    "Changes": obj(
        {
            "changes": {"type": "array", "items": ref("Change")},
            "cursor": {"type": "string", "description": "Keep it: ask with ?since= it next."},
            "more": {"type": "boolean", "description": "Whether to ask again at once."},
            "next": {"type": "string", "format": "uri"},
        }
    ),
    "FhirBundle": {
        "type": "object",
        "description": "A FHIR R5 Bundle of type document (validate it with a FHIR validator).",
        "externalDocs": {"url": "https://hl7.org/fhir/R5/bundle.html"},
        "required": ["resourceType", "type", "timestamp", "entry"],
        "properties": {
            "resourceType": {"const": "Bundle"},
            "type": {"const": "document"},
            "timestamp": {"type": "string", "format": "date-time"},
            "entry": {
                "type": "array",
                "minItems": 1,
                "items": obj(
                    {
                        "fullUrl": {"type": "string", "format": "uri"},
                        "resource": {
                            "type": "object",
                            "required": ["resourceType"],
                            "properties": {"resourceType": STRING},
                        },
                    }
                ),
            },
        },
    },
}


def add_components(result, generator, request, public):
    """drf-spectacular hook: add the shapes the views refer to by name."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(COMPONENTS)
    return result
