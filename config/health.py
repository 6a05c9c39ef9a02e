"""/healthz: the web process is up and can reach its database. The reason of a failure
goes to the log, never to the client (it names hosts, ports and roles)."""

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        logger.error("health check: the database is unreachable: %s", str(exc).strip())
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})
