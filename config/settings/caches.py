"""The caches.

Per-process cache (facet counts): pages keep working when Redis is down.
"ratelimit" holds the rate-limit counters (core/ratelimit.py): shared by every process
through Redis in production, per process without REDIS_URL. Short socket timeouts: a
frozen Redis costs a request 0.5 s, and the limiter then lets the request through.
"photo_queries" keeps photo-search queries for refining (the query's embedding and a
small preview under a random token, VISUALSEARCH_QUERY_TOKEN_SECONDS).
"catalogue" keeps the catalogue's counts and facet counts per catalogue version (shop/caching.py),
shared by the web processes; per process without REDIS_URL.
"search" keeps find similar's rankings under the index's content (visualsearch.query.cache),
shared by the web processes; per process without REDIS_URL.
"""

from config.settings.base import env


def _shared_cache(redis_url: str, name: str) -> dict[str, object]:
    """A cache every process shares through Redis (short socket timeouts: a frozen Redis costs
    a request 0.5 s, and its users carry on without it), or this process's memory."""
    if not redis_url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": name}
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": redis_url,
        "KEY_PREFIX": f"lookalike-{name}",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }


CACHES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "ratelimit": _shared_cache(env("DJANGO_RATELIMIT_REDIS_URL", default=env("REDIS_URL", default="")), "ratelimit"),
    "catalogue": _shared_cache(
        env("DJANGO_CATALOGUE_CACHE_REDIS_URL", default=env("REDIS_URL", default="")), "catalogue"
    ),
    "search": _shared_cache(env("DJANGO_SEARCH_CACHE_REDIS_URL", default=env("REDIS_URL", default="")), "search"),
    "photo_queries": _shared_cache(
        env("DJANGO_PHOTO_QUERY_REDIS_URL", default=env("REDIS_URL", default="")), "photo_queries"
    ),
}
