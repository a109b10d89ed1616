"""Login security: password hashing, failed-login limits, the second factor
for HR and administrators, and the security headers of every page."""

import os
import re
import subprocess
import sys
from datetime import timedelta

import pyotp
import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from tests.conftest import PASSWORD, enrol_totp


def logged_in_user_id(client):
    return client.session.get("_auth_user_id")


def post_login(client, email, password):
    return client.post("/accounts/login/", {"login": email, "password": password}, HTTP_ACCEPT_LANGUAGE="en")


def confirm_password(client, next_url: str):
    """allauth asks for the password again before changing the second factor
    (a session alone, e.g. a stolen one, cannot add or remove one)."""
    response = client.get(next_url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    response = client.post(response["Location"], {"password": PASSWORD})
    assert response.status_code == 302
    return client.get(next_url, HTTP_ACCEPT_LANGUAGE="en")


# --- passwords -------------------------------------------------------------------

def test_production_settings_hash_passwords_with_argon2():
    # tests.settings swaps in MD5 for speed; the production module must not.
    from django.contrib.auth.hashers import Argon2PasswordHasher

    from tidsnok import settings as production

    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    # ... and the Argon2 library is installed, so that hasher actually works.
    encoded = Argon2PasswordHasher().encode("correct horse", Argon2PasswordHasher().salt())
    assert encoded.startswith("argon2$argon2id$")


def test_passwords_must_be_long(world):
    from tidsnok import settings as production

    lengths = [v.get("OPTIONS", {}).get("min_length") for v in production.AUTH_PASSWORD_VALIDATORS]
    assert 12 in lengths


# --- failed logins ---------------------------------------------------------------------

def test_wrong_password_is_refused(world, client):
    response = post_login(client, "marte@test.no", "wrong password")
    assert response.status_code == 200
    assert logged_in_user_id(client) is None


def test_right_password_logs_a_manager_in(world, client):
    response = post_login(client, "marte@test.no", PASSWORD)
    assert response.status_code == 302
    assert logged_in_user_id(client) == str(world.user("marte").pk)


def test_sixth_attempt_after_five_wrong_passwords_is_refused_even_with_the_right_one(world, client):
    for _ in range(5):
        response = post_login(client, "marte@test.no", "wrong password")
        assert response.status_code == 200
        assert "too many" not in response.content.decode().lower()
    response = post_login(client, "marte@test.no", PASSWORD)
    # allauth answers a blocked login with the form and its rate-limit error
    # (a 429 is only for the per-address "login" limit, which is not reached).
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert logged_in_user_id(client) is None


def test_the_limit_is_per_account(world, client):
    for _ in range(5):
        post_login(client, "marte@test.no", "wrong password")
    assert post_login(client, "emil@test.no", PASSWORD).status_code == 302
    assert logged_in_user_id(client) == str(world.user("emil").pk)


def test_the_limit_lifts_after_five_minutes(world, client):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            post_login(client, "marte@test.no", "wrong password")
        assert post_login(client, "marte@test.no", PASSWORD).status_code == 200
    with time_machine.travel(start + timedelta(minutes=5, seconds=1), tick=False):
        assert post_login(client, "marte@test.no", PASSWORD).status_code == 302
    assert logged_in_user_id(client) == str(world.user("marte").pk)


# --- the second factor -------------------------------------------------------------------

@pytest.mark.parametrize("key", ["hanne", "hugo", "ada"])
def test_hr_and_admin_are_sent_to_enrol_a_second_factor_first(world, client, key):
    # A real login: allauth lets only a freshly authenticated user enrol.
    assert post_login(client, f"{key}@test.no", PASSWORD).status_code == 302
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/totp/activate/")
    # The enrolment page itself is reachable, or they could never comply.
    page = confirm_password(client, response["Location"])
    assert page.status_code == 200
    assert 'name="code"' in page.content.decode()


def test_hr_who_enrols_through_the_page_reaches_the_overview(world, client):
    post_login(client, "hugo@test.no", PASSWORD)
    page = confirm_password(client, "/accounts/2fa/totp/activate/")
    secret = page.context["form"].secret
    response = client.post("/accounts/2fa/totp/activate/", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("key", ["marte", "dina", "siri", "ask", "emil"])
def test_others_are_not_required_to_enrol_a_second_factor(world, client, key):
    client.force_login(world.user(key))
    assert client.get("/").status_code == 200


def test_hr_with_a_second_factor_is_asked_for_the_code_at_login(world, client):
    secret = enrol_totp(world.user("hanne"))
    response = post_login(client, "hanne@test.no", PASSWORD)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/authenticate/")
    # The password alone has not logged her in.
    assert logged_in_user_id(client) is None
    assert client.get("/").status_code == 302

    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200
    assert logged_in_user_id(client) is None

    right = client.post("/accounts/2fa/authenticate/", {"code": pyotp.TOTP(secret).now()})
    assert right.status_code == 302
    assert logged_in_user_id(client) == str(world.user("hanne").pk)
    assert client.get("/").status_code == 200


def test_login_fixture_goes_through_password_and_code(world, login):
    secret = enrol_totp(world.user("ada"))
    client = login(world.user("ada"), totp_secret=secret)
    assert client.get("/").status_code == 200


def test_second_factor_page_offers_an_authenticator_app_and_security_keys(world, client):
    client.force_login(world.user("marte"))
    response = client.get("/accounts/2fa/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.content.decode()
    assert "/accounts/2fa/totp/activate/" in body
    assert "/accounts/2fa/webauthn/" in body


def test_security_key_page_renders(world, client):
    post_login(client, "marte@test.no", PASSWORD)
    response = confirm_password(client, "/accounts/2fa/webauthn/add/")
    assert response.status_code == 200
    assert "webauthn" in response.content.decode().lower()


# --- headers and cookies --------------------------------------------------------------

def test_pages_send_a_nonce_based_content_security_policy(db, client):
    response = client.get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert "script-src 'self' 'nonce-" in policy
    assert "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    # The nonce in the header is the one the page's own script carries.
    assert f'nonce="{nonce}"' in response.content.decode()


def test_each_response_gets_a_fresh_nonce(db, client):
    first = client.get("/accounts/login/")["Content-Security-Policy"]
    second = client.get("/accounts/login/")["Content-Security-Policy"]
    assert re.search(r"'nonce-([^']+)'", first).group(1) != re.search(r"'nonce-([^']+)'", second).group(1)


@pytest.mark.parametrize("path", ["/accounts/login/", "/"])
def test_pages_forbid_framing_sniffing_and_leaking_the_referrer(world, client, path):
    client.force_login(world.user("marte"))
    response = client.get(path)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_session_cookie_is_http_only_and_same_site(world, client):
    post_login(client, "marte@test.no", PASSWORD)
    cookie = client.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_session_cookie_is_secure_when_served_over_https():
    # In a fresh process: the production settings read the environment once, at import.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SECRET_KEY": "x" * 50, "AUDIT_KEY": "y" * 50, "ENCRYPTION_KEYS": "z" * 50,
        "TIDSNOK_DATA_DIR": os.environ["TIDSNOK_DATA_DIR"],
        "SITE_URL": "https://tidsnok.example.no",
    }
    code = "import tidsnok.settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY)"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                            cwd=settings.BASE_DIR)
    assert result.stdout.split() == ["True", "True", "True"]
