"""Celery (CELERY_* settings, read by config/celery.py) and its periodic tasks. No broker
configured: tasks run in-process (eager), the embedded default."""

from config.settings.base import env

REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL or None)
if CELERY_TASK_ALWAYS_EAGER:
    # With a host name: kombu warns "No hostname was supplied" about a bare "memory://".
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = env.bool("CELERY_TASK_EAGER_PROPAGATES", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ROUTES = {
    "visualsearch.tasks.embed_query_image": {"queue": "query"},
    "visualsearch.tasks.embed_query_image_located": {"queue": "query"},
    # Order emails and stock releases never wait behind a reindex batch on the "celery" queue.
    "orders.tasks.*": {"queue": "shop"},
    "bag.tasks.*": {"queue": "shop"},
    # Staff's bulk imports from the admin (shop.tasks.import_job_run_task).
    "shop.tasks.*": {"queue": "shop"},
    # Insights' flush and retention: short, never behind a reindex.
    "insights.tasks.*": {"queue": "shop"},
    # Back-in-stock e-mails: sent soon after the restock, never behind a reindex.
    "stockalerts.tasks.*": {"queue": "shop"},
}
# Fail fast when the broker is down instead of hanging the request that enqueues.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "visibility_timeout": 3600,
}
CELERY_REDIS_BACKEND_HEALTH_CHECK_INTERVAL = 10
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 2
# A frozen (not down) Redis: photo search gives up after ~9 s instead of ~30 s (3 reads × 3 s).
CELERY_REDIS_SOCKET_TIMEOUT = 3
# The Redis result backend retries a lost connection 20 times, 1 s apart, by default: with
# Redis down every photo search (which subscribes to its result before sending the task)
# would hang ~20 s whatever VISUALSEARCH_QUERY_TIMEOUT says. One quick retry, then fail.
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Periodic tasks (celery beat): unpaid orders give their stock back after the timeout.
CELERY_BEAT_SCHEDULE = {
    "orders-release-expired": {
        "task": "orders.tasks.orders_release_expired",
        "schedule": env.float("ORDERS_RELEASE_EVERY_SECONDS", default=300.0),
    },
    "bags-prune-abandoned": {"task": "bag.tasks.bags_prune_abandoned", "schedule": 24 * 3600.0},
    # Rebuilds the FAISS index artifact when the change log has grown past it (or it is old);
    # does nothing where the site serves the exact index.
    "index-artifact-check": {
        "task": "visualsearch.tasks.build_index_artifact",
        "schedule": env.float("VISUALSEARCH_ARTIFACT_CHECK_EVERY_SECONDS", default=600.0),
        "kwargs": {"force": False},
    },
    # Insights: buffered shopper events into the database; "nothing close" photos past their
    # retention period deleted.
    "insights-flush": {
        "task": "insights.tasks.insights_flush",
        "schedule": env.float("INSIGHTS_FLUSH_EVERY_SECONDS", default=15.0),
    },
    "insights-prune": {"task": "insights.tasks.insights_prune", "schedule": 3600.0},
}
