"""The public API at /api/v1/: published guidance as data (JSON and FHIR), read-only."""
