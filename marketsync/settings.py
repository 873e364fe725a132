"""All configuration comes from the environment (django-environ).

With nothing set, the project runs on a bare machine: SQLite and a filesystem
broker under ``var/``, and a development encryption key generated there.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("MARKETSYNC_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env(
    DEBUG=(bool, True),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1", "[::1]", "testserver"]),
    SYNC_INTERVAL_SECONDS=(int, 300),
)
environ.Env.read_env(BASE_DIR / ".env") if (BASE_DIR / ".env").exists() else None

DEBUG = env("DEBUG")
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-secret-key-not-for-production"
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "marketsync.sync",
    "marketsync.simulator",
    "connections",
    "orders",
    "offers",
    "listings",
    "inventory",
    "backship",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "connections.middleware.CurrentOrganizationMiddleware",
]

ROOT_URLCONF = "marketsync.urls"
WSGI_APPLICATION = "marketsync.wsgi.application"

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
                "connections.context_processors.workspace",
                "inventory.context_processors.stock_problems",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let web, worker and beat share one SQLite file.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "orders:order_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# --- credentials at rest -------------------------------------------------------
DEV_KEY_FILE = VAR_DIR / "field_encryption.key"


def _field_encryption_keys() -> list[str]:
    keys = env.list("FIELD_ENCRYPTION_KEYS", default=[])
    if keys:
        return keys
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is not set. Generate one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'` "
            "and set it (comma-separated, newest first) before starting with DEBUG off."
        )
    if not DEV_KEY_FILE.exists():
        from cryptography.fernet import Fernet

        DEV_KEY_FILE.write_bytes(Fernet.generate_key())
        DEV_KEY_FILE.chmod(0o600)
    return [DEV_KEY_FILE.read_text().strip()]


FIELD_ENCRYPTION_KEYS = _field_encryption_keys()

# --- sync ------------------------------------------------------------------------
SYNC_INTERVAL_SECONDS = env("SYNC_INTERVAL_SECONDS")
SYNC_START_DATE = env.str("SYNC_START_DATE", default="")  # ISO date; empty = 30 days back
SYNC_INITIAL_LOOKBACK_DAYS = env.int("SYNC_INITIAL_LOOKBACK_DAYS", default=30)
SYNC_LOOKBACK_SECONDS = env.int("SYNC_LOOKBACK_SECONDS", default=600)
SYNC_MAX_RETRY_WAIT_SECONDS = env.float("SYNC_MAX_RETRY_WAIT_SECONDS", default=60.0)
SYNC_HTTP_TIMEOUT_SECONDS = env.float("SYNC_HTTP_TIMEOUT_SECONDS", default=30.0)
# A running sync renews its lease every heartbeat; a lease left by a killed worker runs out after SYNC_LEASE_SECONDS.
# The lease outlasts the longest pause between two heartbeats (an HTTP timeout, a Retry-After wait) with room.
SYNC_LEASE_SECONDS = env.int("SYNC_LEASE_SECONDS", default=90)
SYNC_LEASE_HEARTBEAT_SECONDS = env.int("SYNC_LEASE_HEARTBEAT_SECONDS", default=max(1, SYNC_LEASE_SECONDS // 4))
if not 0 < SYNC_LEASE_HEARTBEAT_SECONDS * 2 <= SYNC_LEASE_SECONDS:
    raise ImproperlyConfigured(
        f"SYNC_LEASE_HEARTBEAT_SECONDS ({SYNC_LEASE_HEARTBEAT_SECONDS}) must be positive and at most half of "
        f"SYNC_LEASE_SECONDS ({SYNC_LEASE_SECONDS})."
    )
# An entity refused with a 403 or BrickLink's IP check is re-probed after this, doubling up to the maximum.
SYNC_FORBIDDEN_RETRY_SECONDS = env.int("SYNC_FORBIDDEN_RETRY_SECONDS", default=900)
SYNC_FORBIDDEN_RETRY_MAX_SECONDS = env.int("SYNC_FORBIDDEN_RETRY_MAX_SECONDS", default=4 * 3600)
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

BACKMARKET_USER_AGENT_COMPANY = env.str("BACKMARKET_USER_AGENT_COMPANY", default="marketsync")
BACKMARKET_USER_AGENT_EMAIL = env.str("BACKMARKET_USER_AGENT_EMAIL", default="ops@marketsync.invalid")
BACKMARKET_BULK_POLL_SECONDS = env.float("BACKMARKET_BULK_POLL_SECONDS", default=10.0)
BACKMARKET_BULK_TIMEOUT_SECONDS = env.float("BACKMARKET_BULK_TIMEOUT_SECONDS", default=1800.0)
BRICKLINK_DAILY_CALL_LIMIT = env.int("BRICKLINK_DAILY_CALL_LIMIT", default=5000)
# Share of the daily limit past which the BrickLink inventory import pauses (orders continue to the limit).
BRICKLINK_INVENTORY_PAUSE_AT = env.float("BRICKLINK_INVENTORY_PAUSE_AT", default=0.8)
# Share past which stock pushes wait too (orders first, pushes second, inventory last): between the two above.
BRICKLINK_PUSH_PAUSE_AT = env.float("BRICKLINK_PUSH_PAUSE_AT", default=0.9)
if not BRICKLINK_INVENTORY_PAUSE_AT <= BRICKLINK_PUSH_PAUSE_AT <= 1.0:
    raise ImproperlyConfigured(
        "BRICKLINK_PUSH_PAUSE_AT must lie between BRICKLINK_INVENTORY_PAUSE_AT and 1.0 "
        f"(got {BRICKLINK_PUSH_PAUSE_AT} with the inventory pause at {BRICKLINK_INVENTORY_PAUSE_AT})."
    )

# --- brick first imports (issue 13 item 5): BrickLink and Brick Owl give no list of full orders, so each changed
# order's detail and items are read by id; this many orders of a page are read at once (1 = one at a time).
BRICK_DETAIL_FETCH_CONCURRENCY = env.int("BRICK_DETAIL_FETCH_CONCURRENCY", default=4)
# Brick Owl allows 600 requests a minute on most endpoints: a run's detail reads keep to this on average.
BRICKOWL_REQUESTS_PER_MINUTE = env.int("BRICKOWL_REQUESTS_PER_MINUTE", default=600)

# --- freshness: orders are re-read until they are final (README, "How fresh each marketplace's orders are").
# A shipped order can still change (received, returned, refunded, cancelled) for a while: it is re-read while
# placed within its marketplace's window. Cadences are "re-read when the last read is older than this".
REFURBED_SHIPPED_WINDOW_DAYS = env.int("REFURBED_SHIPPED_WINDOW_DAYS", default=14)
BRICKOWL_SHIPPED_WINDOW_DAYS = env.int("BRICKOWL_SHIPPED_WINDOW_DAYS", default=30)
BRICKOWL_SHIPPED_REFRESH_SECONDS = env.int("BRICKOWL_SHIPPED_REFRESH_SECONDS", default=21600)
BRICKOWL_REREADS_PER_TICK = env.int("BRICKOWL_REREADS_PER_TICK", default=50)
BRICKLINK_SHIPPED_WINDOW_DAYS = env.int("BRICKLINK_SHIPPED_WINDOW_DAYS", default=30)
BRICKLINK_OPEN_ORDER_REFRESH_SECONDS = env.int("BRICKLINK_OPEN_ORDER_REFRESH_SECONDS", default=21600)
BRICKLINK_SHIPPED_REFRESH_SECONDS = env.int("BRICKLINK_SHIPPED_REFRESH_SECONDS", default=86400)
# BrickLink's re-reads cost 2 of its 5,000 daily calls each: at most this many per tick (0 = none).
BRICKLINK_REREADS_PER_TICK = env.int("BRICKLINK_REREADS_PER_TICK", default=4)
# Brick Owl's catalog (colour list, BOID -> BrickLink number): how old it may get before it is read again, and the
# most /catalog/id_lookup calls one catalog run makes (a first import of a large store is spread over runs).
BRICKOWL_CATALOG_REFRESH_SECONDS = env.int("BRICKOWL_CATALOG_REFRESH_SECONDS", default=7 * 24 * 3600)
BRICKOWL_ID_LOOKUPS_PER_RUN = env.int("BRICKOWL_ID_LOOKUPS_PER_RUN", default=200)
# --- idle cost (issue 13 item 3): what a tick costs when nothing changed does not grow with the data.
# Full catalog sweeps (Refurbed offers and market offers, Back Market listings, BrickLink and Brick Owl inventory)
# run when the last complete one is this old; the ticks between read nothing for them (incremental reads of
# orders stay every tick). Our own changes to listings come back through our writes and pushes meanwhile.
SYNC_CATALOG_SWEEP_SECONDS = env.int("SYNC_CATALOG_SWEEP_SECONDS", default=3600)
# Brick Owl's open orders: item edits show in the list's totals each tick; refunds, tracking and notes only in a
# re-read, made when the last read is this old (within BRICKOWL_REREADS_PER_TICK, shared with settling orders).
BRICKOWL_OPEN_ORDER_REFRESH_SECONDS = env.int("BRICKOWL_OPEN_ORDER_REFRESH_SECONDS", default=3600)
# Refurbed has no update-time filter: orders that can still change are re-read by id (100 a call) when their last
# read is this old, at most REFURBED_REREADS_PER_TICK a tick (open ones first, least recently read first).
REFURBED_OPEN_ORDER_REFRESH_SECONDS = env.int("REFURBED_OPEN_ORDER_REFRESH_SECONDS", default=900)
REFURBED_SHIPPED_REFRESH_SECONDS = env.int("REFURBED_SHIPPED_REFRESH_SECONDS", default=3600)
REFURBED_REREADS_PER_TICK = env.int("REFURBED_REREADS_PER_TICK", default=500)
# Celery modules outside the autodiscovered apps: the webhook tasks.
CELERY_IMPORTS = ["marketsync.webhooks.tasks"]

# --- Celery ------------------------------------------------------------------------
_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="")
if not CELERY_RESULT_BACKEND:
    CELERY_RESULT_BACKEND = (
        CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else f"file://{VAR_DIR / 'results'}"
    )
    if CELERY_RESULT_BACKEND.startswith("file://"):
        (VAR_DIR / "results").mkdir(exist_ok=True)
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("out", "processed", "control"):
        (_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "out"),
        "data_folder_out": str(_BROKER_DIR / "out"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
# A task must finish well inside one interval; the broker must not redeliver a
# task that is still running, so the visibility timeout exceeds the hard limit.
CELERY_TASK_SOFT_TIME_LIMIT = int(SYNC_INTERVAL_SECONDS * 0.8)
CELERY_TASK_TIME_LIMIT = int(SYNC_INTERVAL_SECONDS * 0.9)
if CELERY_BROKER_URL.startswith("redis"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT * 4}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = "UTC"

# --- logging -------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "marketsync.redaction.RedactingFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # oauthlib logs the signed parameters (consumer key, token) and the base string at DEBUG: never below WARNING.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}, "oauthlib": {"level": "WARNING"}},
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Stock push (inventory/push.py) ---------------------------------------------------------------------------
# First retry of a transient push failure after this many seconds, doubling up to the maximum; a push that fails
# STOCK_PUSH_MAX_ATTEMPTS times is failed (shown on the item's page).
STOCK_PUSH_RETRY_SECONDS = env.int("STOCK_PUSH_RETRY_SECONDS", default=30)
STOCK_PUSH_RETRY_MAX_SECONDS = env.int("STOCK_PUSH_RETRY_MAX_SECONDS", default=3600)
STOCK_PUSH_MAX_ATTEMPTS = env.int("STOCK_PUSH_MAX_ATTEMPTS", default=10)
# How long a drain holds a push it is sending (a crashed worker's push is due again after it).
STOCK_PUSH_CLAIM_SECONDS = env.int("STOCK_PUSH_CLAIM_SECONDS", default=300)
# Pushes one drain sends at most; the beat sweep runs every STOCK_PUSH_SWEEP_SECONDS for anything left.
STOCK_PUSH_BATCH = env.int("STOCK_PUSH_BATCH", default=500)
STOCK_PUSH_SWEEP_SECONDS = env.int("STOCK_PUSH_SWEEP_SECONDS", default=60)
# Back Market's 2,000 SKU lines an hour: pushes beyond wait for the next hour.
BACKMARKET_PUSHES_PER_HOUR = env.int("BACKMARKET_PUSHES_PER_HOUR", default=2000)

# --- Scaling: worker processes, HTTP and database connections (README "Scaling out") ----------------------------
# One HTTP connection pool (and SSL context) per worker process, shared by its threads and by every sync
# (marketsync/sync/http.py). Limits are per process and per marketplace host.
SYNC_HTTP_MAX_CONNECTIONS = env.int("SYNC_HTTP_MAX_CONNECTIONS", default=100)
SYNC_HTTP_MAX_KEEPALIVE = env.int("SYNC_HTTP_MAX_KEEPALIVE", default=32)
SYNC_HTTP_KEEPALIVE_SECONDS = env.float("SYNC_HTTP_KEEPALIVE_SECONDS", default=30.0)
# A prefork worker holds one database connection per child, kept for DB_CONN_MAX_AGE seconds (above). A threads
# pool holds one per thread; DB_POOL_MAX_SIZE > 0 gives each worker process a psycopg pool of at most that many
# connections instead (PostgreSQL only; Django requires CONN_MAX_AGE 0 with it).
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=0)
if DB_POOL_MAX_SIZE and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    try:
        import psycopg_pool  # noqa: F401
    except ImportError:
        raise ImproperlyConfigured("DB_POOL_MAX_SIZE needs the psycopg pool: pip install 'psycopg[pool]'.") from None
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=1), "max_size": DB_POOL_MAX_SIZE,
        "timeout": env.float("DB_POOL_TIMEOUT_SECONDS", default=30.0),
    }
