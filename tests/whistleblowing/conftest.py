"""Helpers for the whistleblowing tests.

In the test world, reports go to HR with whole-organisation scope (Hanne) unless
handlers are designated. HR and administrators must have a second factor to use
the web pages, so `handler_client` enrols one first.
"""

import pytest
from django.core.cache import cache

from tests.conftest import enrol_totp
from tidsnok.whistleblowing import services


@pytest.fixture(autouse=True)
def _fresh_cache(request):
    """Rate-limit counters live in the database cache, which a transactional test does not empty."""
    transactional = "transactional_db" in request.fixturenames or any(
        m.kwargs.get("transaction") for m in request.node.iter_markers("django_db")
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    cache.clear()
    yield
    cache.clear()


def send(world, *, user=None, anonymity="anonymous", category="work_environment",
         description="Lederen på nattevakt truer de ansatte som sier fra.", when="Siden mars", involved="",
         attachments=()):
    return services.submit_report(
        user, world.org, category=category, anonymity=anonymity, description=description, when=when,
        involved=involved, attachments=attachments,
    )


@pytest.fixture
def handler_client(client):
    """A Django test client logged in as a persona with her second factor."""

    def _client(user):
        from tidsnok.access.middleware import has_second_factor

        if not has_second_factor(user):
            enrol_totp(user)
        client.force_login(user)
        return client

    return _client
