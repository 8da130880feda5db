"""The production settings plus the benchmark-only routes; used only by `python -m bench`.

Everything else (DEBUG, SECRET_KEY, DATABASE_URL, REDIS_URL) comes from the environment,
exactly as in production.
"""

from pathlib import Path

from config.settings import *  # noqa: F403 - the production settings, unchanged
from config.settings import TEMPLATES

ROOT_URLCONF = "bench.urls"

TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], Path(__file__).resolve().parent / "templates"]

# collectstatic writes here, so that a benchmark run leaves the checkout as it was.
STATIC_ROOT = Path(__file__).resolve().parent / "out" / "staticfiles"
