"""Django settings for Time to DO.

Everything comes from environment variables (optionally a `.env` file in the project
root); see the configuration table in README.md. Unset variables give the embedded
defaults: SQLite, in-memory channel layer, local-memory cache, DEBUG off.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from dotenv import load_dotenv

from timetodo import config

BASE_DIR = Path(__file__).resolve().parent.parent

# A .env file fills in variables the real environment does not set.
load_dotenv(BASE_DIR / ".env", override=False)
env = config.Env(os.environ)

DEBUG = env.flag("DEBUG", False)
SECRET_KEY = config.secret_key(env, debug=DEBUG)
SECRET_KEY_PROBLEM = config.secret_key_problem(env.text("SECRET_KEY"), debug=DEBUG)

# Render sets RENDER_EXTERNAL_HOSTNAME to the service's public host name.
RENDER_EXTERNAL_HOSTNAME = env.text("RENDER_EXTERNAL_HOSTNAME")
ALLOWED_HOSTS = env.items("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.items("CSRF_TRUSTED_ORIGINS")
if RENDER_EXTERNAL_HOSTNAME:
    ALLOWED_HOSTS.append(RENDER_EXTERNAL_HOSTNAME)
    CSRF_TRUSTED_ORIGINS.append(f"https://{RENDER_EXTERNAL_HOSTNAME}")
CORS_ALLOWED_ORIGINS = env.items("CORS_ALLOWED_ORIGINS")
# Proxies in front of the app that append to X-Forwarded-For (1 on Render). 0: ignore the header.
TRUSTED_PROXY_COUNT = env.number("TRUSTED_PROXY_COUNT", 0, minimum=0)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "corsheaders",
    "django_filters",
    "django_prometheus",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "timetodo",
    "accounts",
    "tasks",
    "realtime",
    "web",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "timetodo.middleware.RequestIdMiddleware",
    "timetodo.middleware.HealthCheckMiddleware",
    "timetodo.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "timetodo.urls"
ASGI_APPLICATION = "timetodo.asgi.application"
# Threads a web process serves requests in (timetodo.handler): each request runs in one of
# them from its first middleware to its response; more would only wait for the pool's
# connections (DATABASE_POOL_MAX_SIZE).
REQUEST_THREADS = env.number("REQUEST_THREADS", 10, minimum=1)
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Data and services
DATABASES = config.databases(env, base_dir=BASE_DIR)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
REDIS_URL = env.text("REDIS_URL")
CHANNEL_LAYERS = config.channel_layers(env)
CACHES = config.caches(env)
# The durable job queue (timetodo/jobs.py): a job is a row of this database, written in the
# transaction of the change that causes it; `manage.py run_worker` runs them.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# A job still marked running this long after it started, claimed by a worker of another
# machine, is taken to have lost its worker and runs again (a dead worker of this machine is
# noticed at once). Jobs must stay well under it: an email, a webhook delivery with a
# timeout of seconds.
JOB_LEASE_SECONDS = env.number("JOB_LEASE_SECONDS", 600, minimum=10)
# How often an idle worker looks for jobs that have become due.
WORKER_POLL_SECONDS = env.number("WORKER_POLL_SECONDS", 1, minimum=1)
# /health/detailed and check_services report the queue as backlogged (503, failing) once the
# oldest due job has waited this long: no worker runs, or too few.
JOB_BACKLOG_SECONDS = env.number("JOB_BACKLOG_SECONDS", 300, minimum=10)

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.EmailOrUsernameBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.text("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.text("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": config.file_storage(env),
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Limits on request sizes (bad input gets a 4xx, never a memory blow-up).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Attachments: files are streamed to a temporary file and refused (413) past this size
# (timetodo/uploads.py); the ASGI handler refuses a body larger than the file plus room for
# the multipart framing while it reads it.
ATTACHMENT_MAX_BYTES = env.number("ATTACHMENT_MAX_BYTES", 25 * 1024 * 1024, minimum=1024)
FILE_UPLOAD_HANDLERS = ["timetodo.uploads.LimitedUploadHandler"]
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

# REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.auth.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "timetodo.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # Filtering is declared per view (FilterSets), never applied implicitly.
    "DEFAULT_FILTER_BACKENDS": [],
    "DEFAULT_SCHEMA_CLASS": "timetodo.schema.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "timetodo.renderers.FastJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "EXCEPTION_HANDLER": "timetodo.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["timetodo.throttling.AnonThrottle", "timetodo.throttling.UserThrottle"],
    "DEFAULT_METADATA_CLASS": "timetodo.metadata.Metadata",
    "DEFAULT_PARSER_CLASSES": [
        "timetodo.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": config.throttle_rate(env, "THROTTLE_ANON_RATE", "120/minute"),
        "user": config.throttle_rate(env, "THROTTLE_USER_RATE", "1200/minute"),
        "register": config.throttle_rate(env, "THROTTLE_REGISTER_RATE", "20/hour"),
        "password": "5/minute",
    },
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.number("ACCESS_TOKEN_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.number("REFRESH_TOKEN_DAYS", 7, minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Tokens carry a hash of the password hash: changing the password ends every session.
    "CHECK_REVOKE_TOKEN": True,
}
# Login guessing protection (django-ratelimit): attempts per minute per client IP and per account.
LOGIN_RATE = config.login_rate(env, "LOGIN_RATE", "5/m")
RATELIMIT_IP_META_KEY = "timetodo.clientip.client_ip"
SPECTACULAR_SETTINGS = {
    "TITLE": "Time to DO API",
    "DESCRIPTION": "Projects, Kanban boards, tasks, sprints and time tracking, live for every client.",
    "VERSION": "1",
    # Swagger UI from drf-spectacular-sidecar's static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "timetodo.schema.add_error_responses",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    # The API speaks JSON (docs/api.md "General"); the form parsers serve the browsable API's
    # HTML forms only and are not part of the contract.
    "PARSER_WHITELIST": ["timetodo.parsers.SafeJSONParser"],
    # PATCH bodies are already partial where they may be; required fields stay required.
    "COMPONENT_SPLIT_PATCH": False,
    "ENUM_NAME_OVERRIDES": {
        "ProjectStatusEnum": "tasks.models.ProjectStatus",
        "SprintStatusEnum": "tasks.models.SprintStatus",
    },
}

# Live sockets (/ws/)
WS_AUTH_TIMEOUT_SECONDS = env.number("WS_AUTH_TIMEOUT_SECONDS", 10, minimum=1)
WS_HEARTBEAT_SECONDS = config.ws_heartbeat_seconds(env)
WS_MAX_SUBSCRIPTIONS = env.number("WS_MAX_SUBSCRIPTIONS", 50, minimum=1)
WS_REPLAY_MAX_EVENTS = env.number("WS_REPLAY_MAX_EVENTS", 1000, minimum=1)
WS_REPLAY_MAX_AGE = timedelta(hours=env.number("WS_REPLAY_MAX_AGE_HOURS", 24, minimum=1))
# Revocations arrive as events at once; this re-check is the safety net for changes made
# behind the services' back (a database edit, the admin's user form).
WS_ACCESS_RECHECK_SECONDS = env.number("WS_ACCESS_RECHECK_SECONDS", 30, minimum=1)
WS_RATE_PER_SECOND = env.number("WS_RATE_PER_SECOND", 20, minimum=1)
WS_RATE_BURST = env.number("WS_RATE_BURST", 40, minimum=1)
# A subscribe that replays N events costs N / this many frames of the budget above.
WS_REPLAY_EVENTS_PER_FRAME = env.number("WS_REPLAY_EVENTS_PER_FRAME", 50, minimum=1)

# Operations
METRICS_TOKEN = env.text("METRICS_TOKEN")
LOGGING = config.logging_config(env)

# Security. Render's load balancer terminates TLS and sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.flag("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env.number("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# The web app's pages (web/); the admin keeps its own login page.
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/projects/"
X_FRAME_OPTIONS = "DENY"
# Our startup refusal replaces W009: it accepts Render's generated 44-character
# (256-bit) keys, which Django's 50-character rule would flag.
SILENCED_SYSTEM_CHECKS = ["security.W009"]
