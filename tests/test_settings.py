import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks

from guidance.checks import redis_version_is_too_old
from tests.redis_server import needs_redis, redis_cache

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


REDIS_CHECK_IDS = {"guidance.E002", "guidance.W002"}


def deploy_messages_about_redis():
    return {
        message.id
        for message in run_checks(include_deployment_checks=True, tags=["caches"])
        if message.id in REDIS_CHECK_IDS
    }


@needs_redis
def test_the_deploy_check_accepts_a_redis_that_reads_or_adds_tokens(settings):
    settings.CACHES = redis_cache()
    assert deploy_messages_about_redis() == set()


def test_the_deploy_check_warns_of_a_redis_that_does_not_answer(settings):
    settings.CACHES = redis_cache("redis://127.0.0.1:1/0")
    assert deploy_messages_about_redis() == {"guidance.W002"}


@pytest.mark.parametrize(
    ("version", "too_old"),
    [("6.2.14", True), ("7.0.15", False), ("7.4.1", False), ("10.0.0", False)],
)
def test_redis_before_7_0_is_refused(version, too_old):
    assert redis_version_is_too_old(version) is too_old
