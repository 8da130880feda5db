import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def start_up(**variables):
    """Load the settings in a fresh interpreter with the given environment."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG"}}
    env.update(variables, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG='maybe' is not a boolean"),
        ("ALLOWED_HOSTS", "example.org,,", "ALLOWED_HOSTS='example.org,,' has an empty entry"),
        ("DATABASE_URL", "mysql://db/x", "only sqlite:/// and postgres:// URLs are supported"),
        ("SECRET_KEY", "short", "SECRET_KEY is too short"),
        ("HTTPS", "sometimes", "HTTPS='sometimes' is not a boolean"),
    ],
)
def test_a_malformed_variable_stops_start_up_naming_it(variable, value, message):
    result = start_up(**{variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_the_defaults_start_on_sqlite():
    result = start_up()
    assert result.returncode == 0, result.stderr


def test_deploy_check_refuses_the_development_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(HTTPS="1", ALLOWED_HOSTS="guidance.example.org")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "guidance.E001" in result.stderr
