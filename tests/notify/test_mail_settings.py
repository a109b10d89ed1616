"""E-mail is configured from the environment into Django 6.1's MAILERS."""

import pytest

from tidsnok.notify.mailconfig import EmailConfigError, mailer_from_env

SMTP = "django.core.mail.backends.smtp.EmailBackend"


def test_an_smtp_url_with_starttls_and_an_encoded_password():
    mailer = mailer_from_env({"EMAIL_URL": "smtp+tls://noreply%40kommune.no:p%3Ass%40rd@smtp.kommune.no:2525"})
    assert mailer == {"BACKEND": SMTP, "OPTIONS": {
        "host": "smtp.kommune.no", "port": 2525, "use_tls": True, "use_ssl": False, "timeout": 10,
        "username": "noreply@kommune.no", "password": "p:ss@rd",
    }}


def test_smtps_defaults_to_port_465_and_smtp_to_25():
    assert mailer_from_env({"EMAIL_URL": "smtps://mail.example"})["OPTIONS"]["port"] == 465
    plain = mailer_from_env({"EMAIL_URL": "smtp://mail.example?timeout=3"})["OPTIONS"]
    assert (plain["port"], plain["use_tls"], plain["timeout"]) == (25, False, 3)


def test_a_file_url_writes_to_a_folder(tmp_path):
    assert mailer_from_env({"EMAIL_URL": f"file://{tmp_path}/mail"}) == {
        "BACKEND": "django.core.mail.backends.filebased.EmailBackend", "OPTIONS": {"file_path": f"{tmp_path}/mail"},
    }
    relative = mailer_from_env({"EMAIL_URL": "file://mail"}, data_dir=tmp_path)
    assert relative["OPTIONS"]["file_path"] == str(tmp_path / "mail")


def test_host_and_friends_without_a_url(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("hemmelig\n")
    mailer = mailer_from_env({"EMAIL_HOST": "relay", "EMAIL_USE_SSL": "1", "EMAIL_HOST_USER": "u",
                              "EMAIL_HOST_PASSWORD_FILE": str(secret)})
    assert mailer["OPTIONS"] == {"host": "relay", "port": 465, "use_tls": False, "use_ssl": True, "timeout": 10,
                                 "username": "u", "password": "hemmelig"}


def test_nothing_configured_means_smtp_on_localhost():
    assert mailer_from_env({})["OPTIONS"]["host"] == "localhost"


def test_the_old_file_backend_variable_is_still_understood(tmp_path):
    mailer = mailer_from_env({"EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend"}, tmp_path)
    assert mailer["OPTIONS"]["file_path"] == str(tmp_path / "mail")


@pytest.mark.parametrize("url", ["ftp://x", "smtps://x?tls=1", "smtp://", "file://"])
def test_nonsense_is_refused(url):
    with pytest.raises(EmailConfigError):
        mailer_from_env({"EMAIL_URL": url})
