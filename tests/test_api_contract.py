"""Every API endpoint answers as its OpenAPI schema says, for every public sample document.

The schema itself is validated as OpenAPI 3.1; each answer (successes, refusals, unknown
references, redirects from former references) is checked against the schema of its path,
status and content type with jsonschema.
"""

import io
import re
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
from django.core.management import call_command
from openapi_spec_validator import validate

from guidance.models import Guidance, GuidanceStatus
from tests.factories import make_document, make_guidance

pytestmark = pytest.mark.django_db

DOCUMENTS = Path(__file__).resolve().parent / "documents"
DOCUMENT_ENDPOINTS = [
    "/api/v1/guidance/{reference}/",
    "/api/v1/guidance/{reference}/chapters/",
    "/api/v1/guidance/{reference}/recommendations/",
    "/api/v1/guidance/{reference}/relations/",
    "/api/v1/guidance/{reference}/update-information/",
    "/api/v1/guidance/{reference}/history/",
    "/api/v1/guidance/{reference}/fhir/",
]


class Contract:
    """The schema as served, and a record of what was checked against it."""

    def __init__(self, client):
        self.client = client
        response = client.get("/api/v1/openapi.json")
        assert response.status_code == 200
        self.spec = response.json()
        self.checked = set()

    def template(self, path):
        for template in self.spec["paths"]:
            pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template))
            if re.fullmatch(pattern, path):
                return template
        raise AssertionError(f"{path} is in no path of the schema")

    def get(self, url, status):
        """GET url, expect status, and check the answer against the schema; return it."""
        response = self.client.get(url)
        assert response.status_code == status, (url, response.content[:500])
        template = self.template(urlsplit(url).path)
        documented = self.spec["paths"][template]["get"]["responses"]
        assert str(status) in documented, f"{status} of {template} is not documented"
        self.checked.add((template, status))
        if status == 301:
            assert "content" not in documented["301"]
            return response
        media_type = response["Content-Type"].split(";")[0]
        content = documented[str(status)]["content"]
        assert media_type in content, f"{template} {status} answers {media_type}"
        schema = {**content[media_type]["schema"], "components": self.spec["components"]}
        jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        ).validate(response.json())
        # The schema lets the contract gain keys; a key answered must still be documented.
        # (A FHIR answer's keys are FHIR's: tests/test_api_fhir.py validates it against R5.)
        undocumented = (
            [] if "fhir" in media_type else self.undocumented_keys(response.json(), schema)
        )
        assert not undocumented, (
            f"{template} answers keys its schema does not list: {undocumented}; add them to "
            "COMPONENTS in guidance/public/api/schemas.py"
        )
        return response

    def undocumented_keys(self, answer, schema, where="answer"):
        """Where the answer has a key that an object of its schema does not list."""
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            return self.undocumented_keys(answer, self.spec["components"]["schemas"][name], where)
        for choice in schema.get("oneOf", []):
            with_components = {**choice, "components": self.spec["components"]}
            if jsonschema.Draft202012Validator(with_components).is_valid(answer):
                return self.undocumented_keys(answer, choice, where)
        if isinstance(answer, list) and "items" in schema:
            return [
                key
                for index, item in enumerate(answer)
                for key in self.undocumented_keys(item, schema["items"], f"{where}[{index}]")
            ]
        if not isinstance(answer, dict) or "properties" not in schema:
            return []
        listed = schema["properties"]
        return [f"{where}.{key}" for key in answer if key not in listed] + [
            key
            for name, value in answer.items()
            if name in listed
            for key in self.undocumented_keys(value, listed[name], f"{where}.{name}")
        ]


@pytest.fixture
def contract(client):
    call_command("load_samples", stdout=io.StringIO(), stderr=io.StringIO())
    call_command("import_guidance", *map(str, sorted(DOCUMENTS.glob("*.md"))), stdout=io.StringIO())
    make_document(
        "IPG100",
        title="A withdrawn procedure",
        status=GuidanceStatus.WITHDRAWN,
        status_explanation="Withdrawn because the device is no longer made.",
    )
    make_guidance("IPG999", status=GuidanceStatus.DRAFT, title="A draft")
    return Contract(client)


def test_the_schema_is_valid_openapi_3_1(contract):
    validate(contract.spec)
    assert contract.spec["openapi"].startswith("3.1")


def test_every_endpoint_answers_as_documented_for_every_public_document(contract):
    references = list(Guidance.objects.published().values_list("reference", flat=True))
    assert {"HTG501", "MTG1", "IPG346", "IPG100"} <= set(references)
    former = {"IPG640"}
    for reference in references:
        for endpoint in DOCUMENT_ENDPOINTS:
            url = endpoint.format(reference=reference.lower())
            if reference in former:
                response = contract.get(url, 301)
                contract.get(response["Location"], 200)
            else:
                contract.get(url, 200)
                # Any case answers the same document.
                assert contract.get(endpoint.format(reference=reference), 200)
    for endpoint in DOCUMENT_ENDPOINTS:
        contract.get(endpoint.format(reference="ipg999"), 404)  # a draft
        contract.get(endpoint.format(reference="nice-1"), 404)  # not a reference

    searches = [
        "",
        "?q=venoplasty",
        "?q=ipg640",
        "?q=%22multiple+sclerosis%22&programme=HTG&status=published",
        "?published_from=2019-01-01&published_to=2026-12-31&sort=title",
        "?sort=date&page_size=1",
        "?status=withdrawn",
    ]
    for query in searches:
        contract.get(f"/api/v1/guidance/{query}", 200)
    refused = [
        "?q=" + "x" * 201,
        "?programme=XYZ",
        "?published_from=soon",
        "?published_from=2026-01-01&published_to=2019-01-01",
        "?status=draft",
        "?sort=popularity",
        "?cursor=not-a-cursor",
        "?page_size=1000",
    ]
    for query in refused:
        contract.get(f"/api/v1/guidance/{query}", 400)

    page = contract.get("/api/v1/guidance/?page_size=2", 200).json()
    while page["next"]:
        page = contract.get(page["next"], 200).json()

    changes = contract.get("/api/v1/changes/", 200).json()
    contract.get(f"/api/v1/changes/?since={changes['cursor']}", 200)
    contract.get("/api/v1/changes/?since=yesterday", 400)

    documented = {
        (path, int(status))
        for path, item in contract.spec["paths"].items()
        for status in item["get"]["responses"]
    }
    schema_itself = {("/api/v1/openapi.json", 200)}
    assert documented - schema_itself == contract.checked
