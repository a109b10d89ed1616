"""An app worker keeps its database connection between requests, and replaces one the database
dropped while it was idle: on PostgreSQL a new connection for every request cost about a quarter
of the throughput (docs/performance.md, finding 20)."""

import pytest
from django.core.signals import request_finished, request_started
from django.db import connection, connections

from tidsnok.org.models import Person


def _next_request():
    """What Django does between two requests of one worker (Django's test client skips it)."""
    request_finished.send(sender=None)
    request_started.send(sender=None)


@pytest.mark.django_db(transaction=True)
def test_a_worker_reuses_its_connection_for_the_next_request():
    connection.close()  # a fresh one: the suite's may be older than DB_CONN_MAX_AGE already
    Person.objects.count()
    first = connection.connection

    _next_request()
    Person.objects.count()

    assert connection.connection is first


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no server to drop a connection")
def test_a_worker_reconnects_when_postgresql_dropped_its_idle_connection():
    connection.close()
    Person.objects.count()
    dropped = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [dropped])
    finally:
        other.close()

    _next_request()

    assert Person.objects.count() == 0
    assert connection.connection.info.backend_pid != dropped
