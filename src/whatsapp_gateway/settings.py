"""WhatsApp Gateway settings: one file, read top to bottom, configured only by environment variables.

Every variable is listed in ``.env.example``. Defaults give the embedded laptop setup (SQLite, Huey on SQLite, the
sandbox provider, mail written to files); production sets ``DATABASE_URL``, ``REDIS_URL``, ``GATEWAY_BASE_URL``
(https) and the secrets.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
import django_include_bootstrap
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from whatsapp_gateway import __version__
from whatsapp_gateway.lib.env import env_bool, env_int, env_list, env_secret, env_str

PACKAGE_DIR = Path(__file__).resolve().parent
VERSION = __version__

# --- Runtime data: SQLite files, generated keys, mail, job queue. Never committed. -------------------------------
DATA_DIR = Path(env_str("GATEWAY_DATA_DIR") or (Path.cwd() / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

# --- Core --------------------------------------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret("SECRET_KEY", DATA_DIR / "secret_key", lambda: secrets.token_urlsafe(50))
# Old SECRET_KEYs still accepted for sessions, password-reset links and signed cookies during a rotation.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])
_encryption_keys = env_secret(
    "GATEWAY_ENCRYPTION_KEYS", DATA_DIR / "encryption_key", lambda: Fernet.generate_key().decode()
)
GATEWAY_ENCRYPTION_KEYS = [k.strip() for k in _encryption_keys.split(",") if k.strip()]
for _key in GATEWAY_ENCRYPTION_KEYS:
    try:
        if len(base64.urlsafe_b64decode(_key.encode())) != 32:
            raise ValueError
    except ValueError as _exc:
        raise ImproperlyConfigured("GATEWAY_ENCRYPTION_KEYS must be comma-separated Fernet keys") from _exc

GATEWAY_BASE_URL = (env_str("GATEWAY_BASE_URL") or "http://127.0.0.1:8000").rstrip("/")
_base = urlparse(GATEWAY_BASE_URL)
if _base.scheme not in ("http", "https") or not _base.hostname:
    raise ImproperlyConfigured("GATEWAY_BASE_URL must be an absolute http(s) URL")
HTTPS = _base.scheme == "https"
# Behind a TLS-terminating reverse proxy: trust its X-Forwarded-Proto and (by default) one X-Forwarded-For hop.
GATEWAY_BEHIND_PROXY = env_bool("GATEWAY_BEHIND_PROXY", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [_base.hostname, "127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [f"{_base.scheme}://{_base.netloc}"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "huey.contrib.djhuey",
    "ninja",
    "django_htmx",  # request.htmx and htmx itself (static django_htmx/htmx-2.min.js)
    "whatsapp_gateway.accounts",
    "whatsapp_gateway.apikeys",
    "whatsapp_gateway.instances",
    "whatsapp_gateway.providers",
    "whatsapp_gateway.contacts",
    "whatsapp_gateway.messaging",
    "whatsapp_gateway.message_templates",
    "whatsapp_gateway.inbound",
    "whatsapp_gateway.suppression",
    "whatsapp_gateway.webhooks",
    "whatsapp_gateway.threecx",
    "whatsapp_gateway.pages",
    "whatsapp_gateway.ui",
    "whatsapp_gateway.dashboard",
    "whatsapp_gateway.operations",
]

MIDDLEWARE = [
    # First, so every later log line (and the access line) carries the request id, route and account.
    "whatsapp_gateway.operations.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response, static files and error pages included.
    "whatsapp_gateway.operations.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the first middleware that touches the database (sessions): an outage answers 503 + Retry-After on
    # every route instead of a 500.
    "whatsapp_gateway.pages.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Before CommonMiddleware: errors raised before a view runs (unknown path, wrong method) get the JSON API's
    # error shape under /api/.
    "whatsapp_gateway.messaging.middleware.ApiErrorEnvelopeMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "whatsapp_gateway.accounts.middleware.CurrentAccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Dates render in the signed-in account's time zone on every portal page (UTC on hover, see ui_tags.when).
    "whatsapp_gateway.ui.middleware.AccountTimezoneMiddleware",
]

ROOT_URLCONF = "whatsapp_gateway.urls"
WSGI_APPLICATION = "whatsapp_gateway.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "whatsapp_gateway.accounts.context_processors.portal",
                "whatsapp_gateway.webhooks.context_processors.webhook_notices",
            ],
        },
    }
]

# --- Database: SQLite (WAL) under var/ by default, PostgreSQL with DATABASE_URL ----------------------------------
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'gateway.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL + synchronous=NORMAL: ~3.5x more writes/s than the defaults on a 2-core machine;
        # IMMEDIATE transactions avoid "database is locked" upgrades when web and worker write at once.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# PostgreSQL: the send path's statements are prepared once per connection (lib/pg_batch.py). Off for a pooler that
# cannot keep prepared statements (PgBouncer before 1.21, or without max_prepared_statements).
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)

# --- Redis (optional): job broker, cache, rate-limit counters -----------------------------------------------------
REDIS_URL = env_str("REDIS_URL") or None

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # File-based so login throttling and other counters hold across several web processes.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

# --- Background jobs: Huey on SQLite by default, Redis with REDIS_URL ---------------------------------------------
HUEY_IMMEDIATE = env_bool("HUEY_IMMEDIATE", False)
HUEY = {
    # A separate queue name lets several deployments (or test runs) share one Redis database without stealing jobs.
    "name": env_str("GATEWAY_QUEUE_NAME") or "whatsapp-gateway",
    "immediate": HUEY_IMMEDIATE,
    "utc": True,
    "consumer": {"workers": env_int("GATEWAY_WORKER_THREADS", 4), "worker_type": "thread", "periodic": True},
    **(
        {"huey_class": "huey.RedisHuey", "url": REDIS_URL}
        if REDIS_URL
        else {"huey_class": "huey.SqliteHuey", "filename": str(DATA_DIR / "jobs.sqlite3")}
    ),
}

# --- Auth: django-allauth (email login, verification, password reset, TOTP MFA, throttling), Argon2 --------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard:home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_ADAPTER = "whatsapp_gateway.accounts.adapters.GatewayAccountAdapter"
ACCOUNT_FORMS = {"signup": "whatsapp_gateway.accounts.forms.GatewaySignupForm"}
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env_str("GATEWAY_EMAIL_VERIFICATION") or "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[WhatsApp Gateway] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = _base.scheme
ACCOUNT_RATE_LIMITS = {
    # Failed logins: 5 per minute per IP and 10 per 5 minutes per account, then a lock-out window.
    "login_failed": "5/m/ip,10/5m/key",
    "login": "30/m/ip",
    "signup": "10/h/ip",
    "reset_password": "5/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "WhatsApp Gateway"
GATEWAY_SIGNUP_ENABLED = env_bool("GATEWAY_SIGNUP_ENABLED", True)
# bench/send_api.py's floor endpoint (POST /api/bench/floor): only for the server a benchmark starts.
GATEWAY_BENCH_FLOOR = env_bool("GATEWAY_BENCH_FLOOR", False)

# --- Email: files under var/mail/ by default, SMTP when EMAIL_HOST is set -----------------------------------------
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or "WhatsApp Gateway <no-reply@localhost>"
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER") or ""
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD") or ""
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_TIMEOUT = 15
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(DATA_DIR / "mail")

# --- Security headers: strict whenever the public URL is https --------------------------------------------------
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", HTTPS)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Preloading is a one-way commitment for the whole domain; it stays the operator's explicit choice.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if GATEWAY_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Reverse proxies in front of the app, each appending to X-Forwarded-For: the client is the entry this many hops from
# the right (lib/client_ip.py). 0 ignores the header. allauth's login limits key on the same address.
GATEWAY_TRUSTED_PROXY_COUNT = env_int("GATEWAY_TRUSTED_PROXY_COUNT", 1 if GATEWAY_BEHIND_PROXY else 0)
if GATEWAY_TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("GATEWAY_TRUSTED_PROXY_COUNT must be 0 or more")
ALLAUTH_TRUSTED_PROXY_COUNT = GATEWAY_TRUSTED_PROXY_COUNT
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # CSV imports; the JSON API enforces its own 64 KB cap

# --- i18n / static -------------------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# The design system (Bootstrap 5.3) comes inside the django-include-bootstrap wheel; it is mounted under
# static/bootstrap/ rather than installed as an app, because that app also ships a templates/base.html.
STATICFILES_DIRS = [PACKAGE_DIR / "static", ("bootstrap", Path(django_include_bootstrap.__file__).parent / "static")]
WHITENOISE_USE_FINDERS = True  # no collectstatic needed on a laptop; production may still collect
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Logging: to stderr; never secrets, keys or full phone numbers ------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL") or "INFO"
# json (one object per line, for log shippers) is the default when the public URL is https; plain on a laptop.
LOG_FORMAT = env_str("LOG_FORMAT") or ("json" if HTTPS else "plain")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "whatsapp_gateway.lib.logs.RedactingFilter"}},
    "formatters": {
        "plain": {"()": "whatsapp_gateway.lib.logs.PlainFormatter"},
        "json": {"()": "whatsapp_gateway.lib.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Huey's consumer adds its own unfiltered handler unless the "huey" logger already has one: give it ours.
        "huey": {"level": "WARNING" if not DEBUG else "INFO", "handlers": ["console"], "propagate": False},
        "httpx": {"level": "WARNING"},
        # Django's request logger names raw paths ("Unauthorized: /providers/sandbox/callback/<token>"): redact at
        # the logger, before any handler (console, mail, test capture) sees the record.
        "django.request": {"filters": ["redact"]},
    },
}

# --- The gateway -----------------------------------------------------------------------------------------------------
GATEWAY_PROVIDER = env_str("GATEWAY_PROVIDER") or "sandbox"
GATEWAY_ALLOW_PRIVATE_WEBHOOKS = env_bool("GATEWAY_ALLOW_PRIVATE_WEBHOOKS", False)  # development only
GATEWAY_RETENTION_BODY_DAYS = env_int("GATEWAY_RETENTION_BODY_DAYS", 30)
GATEWAY_RETENTION_METADATA_DAYS = env_int("GATEWAY_RETENTION_METADATA_DAYS", 365)
GATEWAY_DEMO_PASSWORD = env_str("GATEWAY_DEMO_PASSWORD") or "demo-password-123"


# --- Instances and the sandbox provider ----------------------------------------------------------------------------
# Provider callbacks (POST /providers/{provider}/callback/{token}) larger than this answer 413.
GATEWAY_CALLBACK_MAX_BYTES = env_int("GATEWAY_CALLBACK_MAX_BYTES", 256 * 1024)
# Sandbox provider: QR lifetime and how many QR codes it issues before giving up, and the delays (seconds) of the
# simulated "sent", "delivered" and "read" callbacks after a send, and of a send to the "slow provider" test number.
GATEWAY_SANDBOX_QR_SECONDS = env_int("GATEWAY_SANDBOX_QR_SECONDS", 20)
GATEWAY_SANDBOX_QR_LIMIT = env_int("GATEWAY_SANDBOX_QR_LIMIT", 30)
try:
    GATEWAY_SANDBOX_STATUS_DELAYS = [float(x) for x in env_list("GATEWAY_SANDBOX_STATUS_DELAYS", ["1", "3", "8"])]
    if len(GATEWAY_SANDBOX_STATUS_DELAYS) != 3 or min(GATEWAY_SANDBOX_STATUS_DELAYS) < 0:
        raise ValueError
except ValueError as _exc:
    raise ImproperlyConfigured(
        "GATEWAY_SANDBOX_STATUS_DELAYS must be three seconds >= 0: sent,delivered,read"
    ) from _exc
GATEWAY_SANDBOX_SLOW_SECONDS = env_int("GATEWAY_SANDBOX_SLOW_SECONDS", 4)

# --- Customer webhooks (webhooks app) ------------------------------------------------------------------------------
GATEWAY_WEBHOOK_TIMEOUT_SECONDS = 15.0  # the public contract, docs/api.md "Webhooks"
# Delivery workers allowed on one endpoint at once, so a slow receiver cannot take every worker thread.
GATEWAY_WEBHOOK_MAX_IN_FLIGHT = env_int("GATEWAY_WEBHOOK_MAX_IN_FLIGHT", 2)
# Deliveries claimed per round trip. Each claim/record round costs ~15 ms of CPU whatever its size (bench/webhooks.py:
# 1.23 ms CPU per delivery at 25, 0.78 ms at 100). A job stops claiming after GATEWAY_WEBHOOK_JOB_SECONDS and a
# batch stops at the first timeout, so a batch never outlives its lease; a killed worker re-sends at most one batch.
GATEWAY_WEBHOOK_BATCH_SIZE = env_int("GATEWAY_WEBHOOK_BATCH_SIZE", 100)
# A claim's lease: a killed worker's deliveries are picked up again after it expires.
GATEWAY_WEBHOOK_LEASE_SECONDS = env_int("GATEWAY_WEBHOOK_LEASE_SECONDS", 60)
# How long one job keeps draining an endpoint before it hands over to a fresh job.
GATEWAY_WEBHOOK_JOB_SECONDS = float(env_int("GATEWAY_WEBHOOK_JOB_SECONDS", 10))

# --- Messaging providers (Evolution API, WAHA, Meta WhatsApp Cloud API) ----------------------------------------------
# Operator credentials. A "Provider configuration" saved in the admin site overrides any of these that it sets.
# Secrets also accept NAME_FILE. Full guide: docs/providers.md.
_KNOWN_PROVIDERS = ("sandbox", "evolution", "waha", "cloud")
if GATEWAY_PROVIDER not in _KNOWN_PROVIDERS:
    raise ImproperlyConfigured(f"GATEWAY_PROVIDER must be one of {', '.join(_KNOWN_PROVIDERS)}")
# Providers customers may choose per instance: GATEWAY_PROVIDER first, then these (e.g. "sandbox" for a demo instance
# next to live ones). GATEWAY_SELECTABLE_PROVIDERS is the same list under its older name; both are honoured.
# Providers disabled in the admin site's provider configuration are not offered. Empty: every new instance uses
# GATEWAY_PROVIDER and no choice is shown.
GATEWAY_PROVIDERS_ALLOWED = list(
    dict.fromkeys(
        [
            GATEWAY_PROVIDER,
            *env_list("GATEWAY_PROVIDERS_ALLOWED", []),
            *env_list("GATEWAY_SELECTABLE_PROVIDERS", []),
        ]
    )
)
for _name in GATEWAY_PROVIDERS_ALLOWED:
    if _name not in _KNOWN_PROVIDERS:
        raise ImproperlyConfigured(f"GATEWAY_PROVIDERS_ALLOWED: unknown provider {_name!r}")
GATEWAY_SELECTABLE_PROVIDERS = [p for p in GATEWAY_PROVIDERS_ALLOWED if p != GATEWAY_PROVIDER]
GATEWAY_PROVIDER_HTTP_TIMEOUT = env_int("GATEWAY_PROVIDER_HTTP_TIMEOUT", 20)  # seconds, per provider API call
# Reconciliation of lost provider webhooks: every N minutes, re-read the last M minutes of message history.
GATEWAY_RECONCILE_INTERVAL_MINUTES = env_int("GATEWAY_RECONCILE_INTERVAL_MINUTES", 10)
GATEWAY_RECONCILE_LOOKBACK_MINUTES = env_int("GATEWAY_RECONCILE_LOOKBACK_MINUTES", 60)
if not 1 <= GATEWAY_RECONCILE_INTERVAL_MINUTES <= 59 or GATEWAY_RECONCILE_LOOKBACK_MINUTES < 1:
    raise ImproperlyConfigured("GATEWAY_RECONCILE_INTERVAL_MINUTES must be 1-59 and the lookback at least 1")
# Evolution API v2 (WHATSAPP-BAILEYS). The global key only creates instances; each instance then uses its own token.
EVOLUTION_BASE_URL = (env_str("EVOLUTION_BASE_URL") or "").rstrip("/")
EVOLUTION_API_KEY = env_str("EVOLUTION_API_KEY") or ""
# IANA zone the Evolution server runs in: its webhook date_time is local time wrongly stamped "Z".
EVOLUTION_SERVER_TIMEZONE = env_str("EVOLUTION_SERVER_TIMEZONE") or ""
# Require Evolution's signed "Authorization: Bearer <JWT>" (its jwt_key header) on callbacks. Off only for
# Evolution versions that do not send webhook headers.
EVOLUTION_WEBHOOK_JWT_REQUIRED = env_bool("EVOLUTION_WEBHOOK_JWT_REQUIRED", True)
# WAHA. The master key creates sessions and mints a session-scoped key per instance.
WAHA_BASE_URL = (env_str("WAHA_BASE_URL") or "").rstrip("/")
WAHA_API_KEY = env_str("WAHA_API_KEY") or ""
# HMAC-SHA512 key for sessions that have no key of their own (each new session gets its own).
WAHA_WEBHOOK_HMAC_KEY = env_str("WAHA_WEBHOOK_HMAC_KEY") or ""
WAHA_WEBHOOK_MAX_AGE_SECONDS = env_int("WAHA_WEBHOOK_MAX_AGE_SECONDS", 3600)  # older signed events are replays
# Meta WhatsApp Cloud API.
CLOUD_GRAPH_BASE_URL = (env_str("CLOUD_GRAPH_BASE_URL") or "https://graph.facebook.com").rstrip("/")
CLOUD_API_VERSION = env_str("CLOUD_API_VERSION") or "v25.0"
CLOUD_ACCESS_TOKEN = env_str("CLOUD_ACCESS_TOKEN") or ""
CLOUD_APP_SECRET = env_str("CLOUD_APP_SECRET") or ""
CLOUD_VERIFY_TOKEN = env_str("CLOUD_VERIFY_TOKEN") or ""

# --- Operations: CSP, authentication throttling, Prometheus metrics (operations app) ------------------------------
# Content-Security-Policy: same-origin only; no inline script anywhere. The admin and Swagger UI set inline styles.
_CSP_BASE = (
    "default-src 'self'; script-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)
GATEWAY_CSP = env_str("GATEWAY_CSP") or f"{_CSP_BASE}; style-src 'self'"
GATEWAY_CSP_RELAXED = env_str("GATEWAY_CSP_RELAXED") or f"{_CSP_BASE}; style-src 'self' 'unsafe-inline'"
# The dashboard's charts are SVG images (shown with <img>, so no script in them ever runs); pygal styles them
# with an embedded stylesheet and style attributes.
GATEWAY_CSP_RELAXED_PATHS = ["/admin/", "/api/docs", "/dashboard/charts/"]
GATEWAY_CSP_REPORT_ONLY = env_bool("GATEWAY_CSP_REPORT_ONLY", False)
# Failed API-key / 3CX authentications per client IP per minute before that IP is refused for the rest of the minute.
GATEWAY_AUTH_FAILURES_PER_MINUTE = env_int("GATEWAY_AUTH_FAILURES_PER_MINUTE", 30)
# How long a web process reuses an API key's row (with its account and plan) without reading it again: a change made
# in another process (revocation, plan, account) applies after at most this long; 0 reads it on every request.
GATEWAY_API_KEY_CACHE_SECONDS = env_int("GATEWAY_API_KEY_CACHE_SECONDS", 2)
# Where those failures are counted without Redis (with REDIS_URL they are counted in Redis).
GATEWAY_AUTH_THROTTLE_FILE = DATA_DIR / "auth-throttle.sqlite3"
# /metrics: a bearer token or an IP allowlist (CIDRs allowed); anyone else gets 404. Loopback only on a laptop.
METRICS_TOKEN = env_str("METRICS_TOKEN") or ""
METRICS_ALLOWED_IPS = env_list(
    "METRICS_ALLOWED_IPS",
    ["127.0.0.1", "::1"] if not HTTPS and not GATEWAY_BEHIND_PROXY else [],
)
# prometheus_client multiprocess mode: every process (gunicorn workers, job workers) writes its counters under this
# directory and /metrics sums them. Must be set before prometheus_client is first imported.
METRICS_DIR = Path(env_str("PROMETHEUS_MULTIPROC_DIR") or (DATA_DIR / "metrics")).resolve()
METRICS_DIR.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)
