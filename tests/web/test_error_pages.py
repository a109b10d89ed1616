"""Error pages in the user's language: what a manager sees when a link no longer leads anywhere
(a case she lost access to answers 404, like one that does not exist), a form refused for its
expired security token, and a server error."""

from django.test import Client, RequestFactory
from django.utils import translation
from django.views.defaults import server_error

from tidsnok.cases import services as case_services


def test_a_case_the_manager_may_not_see_gives_the_norwegian_404_page_with_the_menu(world, client):
    case = case_services.open_case(world.user("kim"), kind="psychosocial", concerns=[world.kari],
                                   description="Kari sier hun er sliten.", known_at=world.org.created_at.date())
    client.force_login(world.user("marte"))
    response = client.get(f"/saker/{case.pk}/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Fant ikke siden</h1>" in page and "du har ikke tilgang til den" in page
    assert 'aria-label="Hovedmeny"' in page and 'href="/"' in page
    assert "Kari" not in page  # nothing about the case


def test_the_404_page_in_english_and_the_api_keeps_its_json(world, client):
    client.force_login(world.user("marte"))
    page = client.get("/saker/999999/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<h1>Page not found</h1>" in page
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404 and api["Content-Type"].startswith("application/json") and api.json()["message"]


def test_a_form_sent_without_its_security_token_is_explained(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.user("marte"))
    response = client.post("/meldinger/", {"all": "1"})
    page = response.content.decode()
    assert response.status_code == 403
    assert "<h1>Skjemaet kunne ikke sendes</h1>" in page and "last siden på nytt" in page


def test_a_server_error_gives_a_page_that_says_what_is_lost(world):
    request = RequestFactory().get("/")
    with translation.override("nb"):
        response = server_error(request)
    page = response.content.decode()
    assert response.status_code == 500
    assert "<h1>Noe gikk galt</h1>" in page and "administratoren" in page
