"""Settings shared by every environment; every difference is an environment variable."""

import datetime as dt
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="insecure-dev-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "callcenter.views.errors.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "callcenter.apps.CallcenterConfig",
    "segments.apps.SegmentsConfig",
    "care.apps.CareConfig",
    "outreach.apps.OutreachConfig",
    "service.apps.ServiceConfig",
]

MIDDLEWARE = [
    # First: /healthz answers probes on the container's own address over plain HTTP, before
    # the host check and the HTTPS redirect.
    "callcenter.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads the session, user or forms: a NUL character in the request is 400.
    "callcenter.middleware.RefuseNulCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "callcenter.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes requires: turns a locked-out login into its refusal.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "callcenter.urls"
WSGI_APPLICATION = "callcenter.wsgi.application"
ASGI_APPLICATION = "callcenter.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "callcenter.context_processors.roles",
            ],
            # `generated`: default names the product wrote, in the reader's language.
            "builtins": ["callcenter.templatetags.generated"],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Hot-path reads (screen-pop, token authentication) as server-side prepared statements; turn
# off behind a pooler that cannot keep them (PgBouncer in transaction mode before 1.21). Django
# turns psycopg's statement preparation off unless OPTIONS asks for it; its own cursors bind on
# the client and never prepare, so this reaches only callcenter.prepared.
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
    5 if DB_PREPARED_STATEMENTS else None
)
# A pool of connections per process (psycopg_pool, Django's `pool` option) instead of one
# persistent connection per thread. For the desk's stream server (docker-compose.yml's `stream`
# service sets it): the session and role checks of each opening stream run in a thread of their
# own, so without a pool every desk opened (all of them after a restart) connected anew.
# Pooling excludes persistent connections, so CONN_MAX_AGE is 0 with it. 0: no pool.
DB_POOL_SIZE = env.int("DB_POOL_SIZE", default=0)
if DB_POOL_SIZE < 0:
    # At startup, rather than at the first connection with the pool's own message.
    raise ImproperlyConfigured(f"DB_POOL_SIZE must be 0 (no pool) or more, not {DB_POOL_SIZE}.")
if DB_POOL_SIZE:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"]["pool"] = {"min_size": 1, "max_size": DB_POOL_SIZE}
# Optional PostgreSQL streaming replica. Only reads that tolerate replication lag use it, and
# they choose it explicitly with callcenter.replica.read_alias() (screen-pop, dashboards); no
# read is routed there implicitly, so read-after-write stays on the primary.
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    _replica = env.db_url_config(DATABASE_REPLICA_URL)
    DATABASES["replica"] = {
        **_replica,
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            **_replica.get("OPTIONS", {}),
            "prepare_threshold": DATABASES["default"]["OPTIONS"]["prepare_threshold"],
        },
        # Under test the replica is the test database of the primary.
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["callcenter.db_routers.PrimaryReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login rate limiting (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username
# from one IP address, that pair is refused (even with the right password) for the cool-off
# time. API tokens are not passwords and are not affected.
AUTHENTICATION_BACKENDS = [
    "callcenter.auth_backends.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Reverse proxies in front of the web process that append to X-Forwarded-For (0: none); login
# throttling then keys on the real client address, not the proxy's.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "callcenter.auth_backends.client_ip"
# A refused login (either limit) shows the login page again with the reason, as 429.
AXES_LOCKOUT_CALLABLE = "callcenter.auth_backends.login_refused_response"
# Failed logins from one client address, whatever the usernames, before that address may not
# try again until the window (the period, from its first failure) ends: "N/period" with period
# s, m, h or d, optionally a count of them ("10/15m"). Counted in Redis.
LOGIN_THROTTLE_RATE = env("LOGIN_THROTTLE_RATE", default="30/h")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Our date and number formats per language over Django's (see callcenter/formats).
FORMAT_MODULE_PATH = ["callcenter.formats"]
TIME_ZONE = env("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# collectstatic writes here (the Dockerfile at build time); whitenoise serves it in production.
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = BASE_DIR / "media"

# Phone numbers are stored in E.164; numbers without a country code are read in this region.
PHONE_DEFAULT_REGION = env("PHONE_DEFAULT_REGION", default="CN")

# Privacy by role (callcenter.masking, callcenter.services.customer_access). Agents see contact
# details masked; these bound what they may read and reveal, per agent and rolling hour.
# The largest page of customers an agent's list (API or search page) returns.
AGENT_CUSTOMER_PAGE_SIZE_MAX = env.int("AGENT_CUSTOMER_PAGE_SIZE_MAX", default=25)
# Distinct customers an agent may read (lists and single customers) per rolling hour.
AGENT_CUSTOMER_READS_PER_HOUR = env.int("AGENT_CUSTOMER_READS_PER_HOUR", default=600)
# Contact details an agent may reveal in full per rolling hour.
AGENT_CONTACT_REVEALS_PER_HOUR = env.int("AGENT_CONTACT_REVEALS_PER_HOUR", default=30)

# Uploaded CSV files above this size are streamed from a temporary file, never held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# CSV import (docs/import.md): the largest file accepted (upload page, API and import_csv);
# uploads up to IMPORT_SYNC_MAX_KB are imported within the request, larger ones by a worker
# from IMPORT_UPLOAD_DIR, which web and worker processes must share (a volume in docker-compose).
IMPORT_MAX_UPLOAD_MB = env.int("IMPORT_MAX_UPLOAD_MB", default=100)
IMPORT_SYNC_MAX_KB = env.int("IMPORT_SYNC_MAX_KB", default=1024)
IMPORT_UPLOAD_DIR = Path(env("IMPORT_UPLOAD_DIR", default=str(MEDIA_ROOT / "imports")))
# A file above IMPORT_MAX_UPLOAD_MB is skipped while the request is read (callcenter/uploads.py).
FILE_UPLOAD_HANDLERS = [
    "callcenter.uploads.UploadSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# Custom attributes of a customer (import and API): how many, and how long names and values.
CUSTOMER_ATTRIBUTES_MAX_KEYS = env.int("CUSTOMER_ATTRIBUTES_MAX_KEYS", default=50)
CUSTOMER_ATTRIBUTE_KEY_MAX_LENGTH = env.int("CUSTOMER_ATTRIBUTE_KEY_MAX_LENGTH", default=64)
CUSTOMER_ATTRIBUTE_VALUE_MAX_LENGTH = env.int("CUSTOMER_ATTRIBUTE_VALUE_MAX_LENGTH", default=500)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "callcenter.authentication.TokenWithRolesAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Bodies with NUL characters, non-finite numbers or deep nesting are refused (400).
    "DEFAULT_PARSER_CLASSES": [
        "callcenter.parsers.CheckedJSONParser",
        "callcenter.parsers.CheckedFormParser",
        "callcenter.parsers.CheckedMultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "callcenter.pagination.DefaultCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "callcenter.errors.api_exception_handler",
    # Requests of signed integrations (no user), per client address (callcenter.throttling).
    # Tracked-link redirects (anonymous customers), per client address (outreach.views.links):
    # generous, as many phones share one carrier address; it bounds the writes of a flood.
    "DEFAULT_THROTTLE_RATES": {
        "webhook": env("WEBHOOK_THROTTLE_RATE", default="1200/min"),
        "tracked_link": env("TRACKED_LINK_THROTTLE_RATE", default="600/min"),
    },
}
# API tokens (`Authorization: Token ...`) expire this many days after they were issued
# (callcenter.selectors.tokens); a password change or an admin ends them sooner.
API_TOKEN_TTL_DAYS = env.int("API_TOKEN_TTL_DAYS", default=90)

SPECTACULAR_SETTINGS = {
    "TITLE": "Call-center CRM API",
    "DESCRIPTION": "Customer profiles, segments, care plans and outreach.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Schema and docs: any call-center role (session or token), nobody anonymous.
    "SERVE_PERMISSIONS": ["callcenter.roles.IsAgent"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have fields named kind/status/channel with different choices: name each
    # enum after its TextChoices class so the schema has no collisions.
    "ENUM_NAME_OVERRIDES": {
        "CustomerKindEnum": "callcenter.choices.CustomerKind",
        "CustomerStatusEnum": "callcenter.choices.CustomerStatus",
        "ContactKindEnum": "callcenter.choices.ContactKind",
        "ConsentChannelEnum": "callcenter.choices.ConsentChannel",
        "ConsentSourceEnum": "callcenter.choices.ConsentSource",
        "OrderStatusEnum": "callcenter.choices.OrderStatus",
        "InteractionChannelEnum": "callcenter.choices.InteractionChannel",
        "DirectionEnum": "callcenter.choices.Direction",
        "TicketKindEnum": "callcenter.choices.TicketKind",
        "TicketStatusEnum": "callcenter.choices.TicketStatus",
        "TicketPriorityEnum": "callcenter.choices.TicketPriority",
        "SurveyKindEnum": "callcenter.choices.SurveyKind",
        "LanguageEnum": "callcenter.choices.Language",
        "CalendarDayKindEnum": "callcenter.choices.CalendarDayKind",
        "CalendarDaySourceEnum": "callcenter.choices.CalendarDaySource",
        "TemplateChannelEnum": "care.choices.TemplateChannel",
        "EventTypeEnum": "care.choices.EventType",
        # outreach
        "TaskChannelEnum": "care.choices.StepChannel",
        "TouchKindEnum": "care.choices.TouchKind",
        "TaskStatusEnum": "outreach.choices.TaskStatus",
        "TaskOutcomeEnum": "outreach.choices.TaskOutcome",
        "RescheduleOutcomeEnum": "outreach.serializers.RESCHEDULE_OUTCOME_CHOICES",
        "ReceiptStatusEnum": "outreach.serializers.RECEIPT_STATUS_CHOICES",
        "CallResultEnum": "outreach.choices.CallResult",
        # segments, care, identity
        "SegmentKindEnum": "segments.choices.SegmentKind",
        "RunStatusEnum": "segments.choices.RunStatus",
        "ChurnModelStatusEnum": "segments.choices.ChurnModelStatus",
        "LifecycleStageEnum": "segments.choices.LifecycleStage",
        "ValueTierEnum": "segments.choices.ValueTier",
        "RfmSegmentNameEnum": "segments.choices.RfmSegmentName",
        "PriorityFieldEnum": "segments.choices.PriorityField",
        "EnrollmentStatusEnum": "care.choices.EnrollmentStatus",
        "EventSourceEnum": "care.choices.EventSource",
        "MergeProposalStatusEnum": "callcenter.choices.MergeProposalStatus",
        "ImportKindEnum": "callcenter.choices.ImportKind",
        "ImportStatusEnum": "callcenter.choices.ImportStatus",
    },
}

# Playbook rules (keys) that install_playbook switches on; the others install inactive.
CARE_PLAYBOOK_ACTIVE = env.list("CARE_PLAYBOOK_ACTIVE", default=[])
# Events older than this when processed (e.g. from a history import) stop plans but enroll nobody.
CARE_EVENT_MAX_AGE_HOURS = env.int("CARE_EVENT_MAX_AGE_HOURS", default=72)

# The living demo of `make run` (service.services.demo): `demo_start` and the demo traffic
# run only where DEMO_ALLOWED is true (the dev and test settings), never in production.
DEMO_ALLOWED = False
# Ring the demo agents' desks and open complaints every DEMO_TRAFFIC_SECONDS (`make run` turns
# it on; `manage.py demo_traffic` refuses while it is off).
DEMO_TRAFFIC = env.bool("DEMO_TRAFFIC", default=False)
DEMO_TRAFFIC_SECONDS = env.float("DEMO_TRAFFIC_SECONDS", default=6.0)

# The agent desk's live streams (server-sent events, served by the ASGI server, callcenter.asgi).
# A user may keep this many open (another one closes the oldest first, in any process).
DESK_STREAMS_PER_USER = env.int("DESK_STREAMS_PER_USER", default=3)

# Threads scikit-learn may use in a refresh (churn scoring, clustering). One is the safe
# default on a shared 2-core machine; raise it only where cores are idle.
SEGMENTS_ML_THREADS = env.int("SEGMENTS_ML_THREADS", default=1)
# A full refresh's aggregation split into this many Celery subtasks across workers (1: one pass).
SEGMENTS_REFRESH_PARTS = env.int("SEGMENTS_REFRESH_PARTS", default=1)
# A saved rule segment's members are computed within the request up to this many customers
# (the planner's estimate); above, by a worker on the segments queue while the page polls.
SEGMENT_COMPUTE_SYNC_MAX_CUSTOMERS = env.int("SEGMENT_COMPUTE_SYNC_MAX_CUSTOMERS", default=200_000)

# Celery: settings read from CELERY_* names (see callcenter/celery.py).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=600)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=900)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# Outreach channels (filled in by the care/outreach work; switched on by environment).
SMS_BACKEND = env("SMS_BACKEND", default="console")
SMS_GATEWAY_URL = env("SMS_GATEWAY_URL", default="")
SMS_GATEWAY_TOKEN = env("SMS_GATEWAY_TOKEN", default="")
# SMS_BACKEND: console | file | http | twilio | dotted path of an outreach ChannelBackend.
SMS_FILE_PATH = env("SMS_FILE_PATH", default="")
# JSON body of the http backend; string values may hold {to} {body} {subject} {idempotency_key}.
SMS_HTTP_BODY_TEMPLATE = env(
    "SMS_HTTP_BODY_TEMPLATE",
    default='{"to": "{to}", "text": "{body}", "reference": "{idempotency_key}"}',
)
SMS_TWILIO_ACCOUNT_SID = env("SMS_TWILIO_ACCOUNT_SID", default="")
SMS_TWILIO_AUTH_TOKEN = env("SMS_TWILIO_AUTH_TOKEN", default="")
SMS_TWILIO_FROM = env("SMS_TWILIO_FROM", default="")
SMS_TWILIO_BASE_URL = env("SMS_TWILIO_BASE_URL", default="https://api.twilio.com")
SMS_TIMEOUT_SECONDS = env.float("SMS_TIMEOUT_SECONDS", default=10.0)
# Links in SMS and email texts are sent as per-recipient short links <base>/l/<token> that
# redirect to the link and record the click (outreach.services.links): the base is this site's
# public address as customers reach it.
TRACKED_LINK_BASE_URL = env("TRACKED_LINK_BASE_URL", default="http://localhost:8000")
# Automated calls: console | file | http | dotted path (the voice platform dials and plays).
AUTO_CALL_BACKEND = env("AUTO_CALL_BACKEND", default="console")
AUTO_CALL_FILE_PATH = env("AUTO_CALL_FILE_PATH", default="")
AUTO_CALL_GATEWAY_URL = env("AUTO_CALL_GATEWAY_URL", default="")
AUTO_CALL_GATEWAY_TOKEN = env("AUTO_CALL_GATEWAY_TOKEN", default="")
AUTO_CALL_HTTP_BODY_TEMPLATE = env(
    "AUTO_CALL_HTTP_BODY_TEMPLATE",
    default='{"to": "{to}", "script": "{body}", "reference": "{idempotency_key}"}',
)
# Secrets of the integrations that sign their requests instead of using a user's token
# (callcenter.signatures), one list per integration so no integration can speak for another:
# the SMS gateway's delivery receipts and inbound SMS, the voice platform's automated-call
# results, the telephony system's call events, other systems' care events. Each is
# comma-separated: every secret listed is accepted, the first is the current one, so a secret
# is rotated by listing the new one first until callers switched.
SMS_WEBHOOK_SECRETS = env.list("SMS_WEBHOOK_SECRETS", default=[])
# WeChat Official Account template messages and WeCom messages to external contacts
# (outreach/backends/weixin.py). *_BACKEND: console | file | api | dotted path.
WECHAT_BACKEND = env("WECHAT_BACKEND", default="console")
WECHAT_FILE_PATH = env("WECHAT_FILE_PATH", default="")
WECHAT_API_BASE_URL = env("WECHAT_API_BASE_URL", default="https://api.weixin.qq.com")
WECHAT_APP_ID = env("WECHAT_APP_ID", default="")
WECHAT_APP_SECRET = env("WECHAT_APP_SECRET", default="")
WECHAT_TEMPLATE_ID = env("WECHAT_TEMPLATE_ID", default="")
# The template's keywords as a JSON object; values may hold {body}, {subject}, {to}.
WECHAT_TEMPLATE_DATA = env("WECHAT_TEMPLATE_DATA", default='{"content": "{body}"}')
WECHAT_TEMPLATE_URL = env("WECHAT_TEMPLATE_URL", default="")
# The token configured for the Official Account's server push (signature check).
WECHAT_CALLBACK_TOKEN = env("WECHAT_CALLBACK_TOKEN", default="")
# The EncodingAESKey of the encrypted ("safe") push mode (43 characters); empty: plain mode only.
WECHAT_CALLBACK_AES_KEY = env("WECHAT_CALLBACK_AES_KEY", default="")
WECOM_BACKEND = env("WECOM_BACKEND", default="console")
WECOM_FILE_PATH = env("WECOM_FILE_PATH", default="")
WECOM_API_BASE_URL = env("WECOM_API_BASE_URL", default="https://qyapi.weixin.qq.com")
WECOM_CORP_ID = env("WECOM_CORP_ID", default="")
WECOM_SECRET = env("WECOM_SECRET", default="")
WECOM_SENDER = env("WECOM_SENDER", default="")
# Token and EncodingAESKey of the WeCom app's callback ("接收消息"); empty: callbacks refused.
WECOM_CALLBACK_TOKEN = env("WECOM_CALLBACK_TOKEN", default="")
WECOM_CALLBACK_AES_KEY = env("WECOM_CALLBACK_AES_KEY", default="")
VOICE_WEBHOOK_SECRETS = env.list("VOICE_WEBHOOK_SECRETS", default=[])
CTI_WEBHOOK_SECRETS = env.list("CTI_WEBHOOK_SECRETS", default=[])
EVENTS_WEBHOOK_SECRETS = env.list("EVENTS_WEBHOOK_SECRETS", default=[])
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="care@example.com")

# Everything goes to the root's console handler once: Django's own "django" handlers (a second
# console in DEBUG, mail to ADMINS, which is empty) are removed so no record prints twice, and
# a refused request (403, 404) is one line, without the traceback of the refusal.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"refusal_one_line": {"()": "callcenter.log_filters.RefusalWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.request": {"filters": ["refusal_one_line"]},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# Business accounts' monthly reports (service.services.account_reports). The custom attributes
# shown as figures, in order: JSON [{"key": "savings", "label": "Savings this month",
# "label_zh_hans": "本月节省"}]; an attribute holds a number, or one per month {"2026-11": 1200}.
ACCOUNT_REPORT_FIGURES = env.json(
    "ACCOUNT_REPORT_FIGURES",
    default=[
        {"key": "savings", "label": "Savings", "label_zh_hans": "节省金额"},
        {"key": "usage", "label": "Usage", "label_zh_hans": "使用量"},
    ],
)
# The advisor's call to walk the account through its report is due within this many business
# days of the report (weekends and public holidays of the holiday calendar excluded).
ACCOUNT_REPORT_CALL_BUSINESS_DAYS = env.int("ACCOUNT_REPORT_CALL_BUSINESS_DAYS", default=3)
