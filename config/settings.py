"""Settings for the guidance registry, driven by environment variables.

Defaults make `make run` work on a fresh machine (SQLite, a development key, DEBUG on).
Production sets DEBUG=0, SECRET_KEY, ALLOWED_HOSTS and DATABASE_URL; a malformed value
stops start-up with ImproperlyConfigured naming the variable.
"""

import datetime
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

DEVELOPMENT_SECRET_KEY = "development-only-key-not-secret-never-use-in-production-guidance-registry"


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use 1/0, true/false, yes/no.")


def env_list(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    items = [item.strip() for item in value.split(",")]
    if not all(items):
        raise ImproperlyConfigured(
            f"{name}={value!r} has an empty entry: give a comma-separated list such as "
            "'guidance.example.org,www.guidance.example.org'."
        )
    return items


def env_int(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None


def env_database(name, default):
    value = os.environ.get(name) or default
    try:
        config = dj_database_url.parse(value, conn_max_age=60, conn_health_checks=True)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}={value!r} is not a database URL: {error}") from None
    if config.get("ENGINE") not in {
        "django.db.backends.sqlite3",
        "django.db.backends.postgresql",
    }:
        raise ImproperlyConfigured(
            f"{name}={value!r}: only sqlite:/// and postgres:// URLs are supported."
        )
    if config["ENGINE"].endswith("sqlite3"):
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        }
    else:
        # Parameters bound by the server, and a statement run five times on a connection
        # prepared there: PostgreSQL then plans a page's queries once per connection instead of
        # on every request (two thirds of its CPU time on an uncached page, bench/METHOD.md).
        # Behind a pooler in transaction mode, set prepare_threshold back to None.
        config["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 5}
    return config


DEBUG = env_bool("DEBUG", default=False)
# Without SECRET_KEY the development key is used; `check --deploy` refuses it.
SECRET_KEY = os.environ.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY is too short: use at least 50 random characters.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "guidance.editorial.sites.RegistryAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.postgres",
    "simple_history",
    "django_tasks_db",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI's scripts and styles, served from our own static files (the CSP allows no other)
    "drf_spectacular_sidecar",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "guidance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads the address: a control character in it is refused with a 400.
    "guidance.middleware.RefuseControlCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the page cache, so that a cached answer is rate-limited and carries CORS headers too.
    "guidance.public.api.middleware.PublicApiMiddleware",
    # Before the session, CSRF and sign-in middleware: a cached public page needs none of them.
    "guidance.public.page_cache.PageCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before django-otp's, which then marks whichever user this one leaves as verified or not.
    "guidance.middleware.SignInExpiryMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "guidance.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: it answers a locked-out sign-in.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The page cache must be one every server process shares, so that a change committed by any
# process (a worker, an import, a shell, the background worker) is on the next page any of them
# serves: the database's cache table (made by migration 0008) unless Redis is given.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "guidance_cache",
        # Each document has a few pages; the database's default of 300 entries is far too few.
        "OPTIONS": {"MAX_ENTRIES": 200_000},
    }
}
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            # django-redis rather than Django's RedisCache, which makes a new Redis client for
            # every operation: a cached page's read cost 300-320 µs of CPU through it, 130 µs
            # through django-redis's one client per server.
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            # With Redis stopped, pages are served uncached without waiting long for it.
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
    # Sessions are read from Redis and kept in the database too, so none is lost with Redis.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# Work that happens later or in the background (scheduled publication, re-rendering pages,
# verifying history) is queued in the database and run by `manage.py db_worker`.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Front caches (Varnish with config/varnish/guidance.vcl) to purge when a change commits,
# e.g. "http://127.0.0.1:6081"; none by default.
FRONT_CACHE_URLS = env_list("FRONT_CACHE_URL", [])
# The Host readers send through the front cache, which keeps a page per Host: the background
# worker asks for each page it renders again with it. By default the first of ALLOWED_HOSTS.
FRONT_CACHE_HOST = os.environ.get("FRONT_CACHE_HOST", "")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    # Django's list of 20,000 passwords most common in breaches.
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in: django-axes counts failures per account and per address (each locks on its own),
# then refuses that account or address for AXES_COOLOFF_TIME; every failure is kept for auditors.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = datetime.timedelta(minutes=30)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "guidance.signin.client_address"
# Failures and lock-outs are read in the history area (/audit/sign-ins/); `manage.py
# axes_reset_username NAME` lifts a lock-out early.
AXES_ENABLE_ADMIN = False
# The second factor (django-otp): TOTP from an authenticator app, or a one-use recovery code.
OTP_TOTP_ISSUER = "Guidance registry"
# The admin never shows a TOTP secret or its QR code again after enrolment.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# A signed-in session ends 8 hours after sign-in, or after 30 minutes without a request.
SESSION_COOKIE_AGE = 8 * 60 * 60
SIGNED_IN_MAX_AGE = datetime.timedelta(hours=8)
SIGNED_IN_IDLE = datetime.timedelta(minutes=30)

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "config.storage.StaticFilesStorage"
    },
}
# Tests and `make run` serve static files without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "admin:login"
# Where a sign-in goes when its ?next= is missing, off-site or leads nowhere: the user's start page.
LOGIN_REDIRECT_URL = "accounts:start"

# Security: no inline script anywhere, nothing loaded from elsewhere, no framing.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True

# Production is served over HTTPS (behind a proxy that sets X-Forwarded-Proto).
if env_bool("HTTPS", default=False):
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# The public API (guidance/public/api/): read-only JSON, the same for every client, so no
# authentication or session is read and the page cache can keep its answers.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "guidance.public.api.renderers.FirstRenderer",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "URL_FORMAT_OVERRIDE": None,
    # Requests per client address (PublicApiMiddleware applies it, cached answers included).
    "DEFAULT_THROTTLE_RATES": {"api": os.environ.get("API_RATE_LIMIT") or "600/minute"},
    # Proxies in front that append to X-Forwarded-For; the client is the address before them.
    "NUM_PROXIES": env_int("API_PROXIES", 1 if env_bool("HTTPS", default=False) else 0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Guidance registry API",
    "DESCRIPTION": (
        "Read-only access to published guidance: search, documents in the JSON contract, "
        "their parts, public history, a changes feed for syndication, and FHIR R5 bundles."
    ),
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"supportedSubmitMethods": ["get"]},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "guidance.public.api.schemas.add_components",
    ],
}

SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
SIMPLE_HISTORY_REVERT_DISABLED = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}


def env_positive_int(name, default):
    value = os.environ.get(name)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise ImproperlyConfigured(f"{name}={value!r} is not a positive whole number.")
    return number


# import_guidance refuses a file larger than this (bytes), and a paragraph longer than this
# (characters): NICE's longest guideline is about 1 MB of text, its longest table under 50,000.
GUIDANCE_IMPORT_MAX_BYTES = env_positive_int("GUIDANCE_IMPORT_MAX_BYTES", 10_000_000)
GUIDANCE_IMPORT_MAX_PARAGRAPH = env_positive_int("GUIDANCE_IMPORT_MAX_PARAGRAPH", 50_000)

# History is signed with an Ed25519 key the database does not hold: HISTORY_SIGNING_KEY (the
# PEM itself) or HISTORY_SIGNING_KEY_FILE (a file only this service's account can read).
# Without either, the development key `make run` makes is used; `check --deploy` refuses it.
DEVELOPMENT_SIGNING_KEY_FILE = BASE_DIR / ".history-signing-key.dev.pem"
HISTORY_SIGNING_KEY = os.environ.get("HISTORY_SIGNING_KEY", "")
HISTORY_SIGNING_KEY_FILE = os.environ.get("HISTORY_SIGNING_KEY_FILE") or str(
    DEVELOPMENT_SIGNING_KEY_FILE
)
# The public keys of earlier signing keys (PEM, one after another): what they signed stays valid.
HISTORY_PUBLIC_KEYS_FILE = os.environ.get("HISTORY_PUBLIC_KEYS_FILE", "")
# A file outside the database, appended to whenever a change commits: one SEQUENCE:DIGEST line
# per change. Make it append-only and owned by another account (chattr +a, or a mount).
HISTORY_WITNESS_FILE = os.environ.get("HISTORY_WITNESS_FILE", "")

# How often the background worker verifies the whole history (and appends the chain head to
# the witness), in seconds; `manage.py schedule_verification` starts the schedule.
HISTORY_VERIFY_INTERVAL = int(os.environ.get("HISTORY_VERIFY_INTERVAL", "3600"))
