"""Rotating SECRET_KEY with SECRET_KEY_FALLBACKS keeps people signed in."""

OLD = "old-secret-key-" + "x" * 40
NEW = "new-secret-key-" + "y" * 40


def test_marte_stays_signed_in_when_the_old_key_is_a_fallback(client, world, settings):
    settings.SECRET_KEY = OLD
    client.force_login(world.user("marte"))
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW, [OLD]
    response = client.get("/")
    assert response.status_code == 200
    assert response.wsgi_request.user.is_authenticated


def test_marte_is_signed_out_when_the_key_changes_without_a_fallback(client, world, settings):
    settings.SECRET_KEY = OLD
    client.force_login(world.user("marte"))
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW, []
    response = client.get("/")
    assert not response.wsgi_request.user.is_authenticated
