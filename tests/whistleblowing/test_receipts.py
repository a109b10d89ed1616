"""Anonymous receipts: long, shown once, never stored in clear, and no oracle.

No timing is measured here (no timing assertions in this suite): that a wrong
receipt costs what a right one does is pinned structurally, by counting the
Argon2 verifications each attempt makes.
"""

import math

import pytest
from django.core.cache import cache

from tests.whistleblowing.conftest import send
from tidsnok.whistleblowing import receipts, services
from tidsnok.whistleblowing.models import Message, Report


@pytest.fixture
def anonymous(world):
    return send(world)


def test_a_receipt_has_120_bits_and_a_secret_of_at_least_80(anonymous):
    receipt = anonymous.receipt
    assert len(receipt.code) == 24 and set(receipt.code) <= set(receipts.ALPHABET)
    assert len(receipts.ALPHABET) == 32
    assert len(receipt.secret) * math.log2(32) >= 80
    assert len(receipt.code) * math.log2(32) == 120


def test_a_receipt_is_shown_in_six_groups_of_four(anonymous):
    groups = anonymous.receipt.grouped.split("-")
    assert [len(g) for g in groups] == [4] * 6


def test_only_the_locator_and_a_slow_hash_are_stored(anonymous):
    report = Report.objects.get()
    assert report.receipt_locator == anonymous.receipt.locator
    assert report.receipt_hash.startswith("$argon2id$")
    assert anonymous.receipt.secret not in report.receipt_hash
    assert anonymous.receipt.code not in repr(Report.objects.values().get())


def test_a_receipt_may_be_typed_loosely(anonymous):
    code = anonymous.receipt.code
    typed = " ".join(code[i : i + 4] for i in range(0, 24, 4)).lower().replace("1", "l").replace("0", "o")
    assert services.open_by_receipt(typed) == anonymous.report


def test_the_reporter_reads_answers_and_writes_back_with_the_receipt(world, anonymous, client):
    services.send_message(world.user("hanne"), anonymous.report, "Hvilken avdeling gjelder det?")
    response = client.post("/varsling/kvittering/", {"receipt": anonymous.receipt.grouped})
    assert response.status_code == 200
    assert "Hvilken avdeling gjelder det?" in response.content.decode()
    assert Message.objects.get(direction="to_reporter").read_by_reporter_on is not None
    response = client.post("/varsling/kvittering/svar/", {"receipt": anonymous.receipt.grouped,
                                                         "body": "Hjemmetjenesten, nattevakt."})
    assert response.status_code == 200
    assert services.body_of(Message.objects.get(direction="from_reporter")) == "Hjemmetjenesten, nattevakt."


def test_the_receipt_never_goes_in_a_url(world, anonymous, client):
    response = client.get("/varsling/kvittering/", {"receipt": anonymous.receipt.grouped})
    assert response.status_code == 200
    assert anonymous.receipt.locator not in response.content.decode()
    body = client.post("/varsling/kvittering/", {"receipt": anonymous.receipt.grouped}).content.decode()
    assert 'method="post"' in body and "?receipt=" not in body


def _attempt(client, receipt):
    return client.post("/varsling/kvittering/", {"receipt": receipt})


def _message(response) -> str:
    import re

    return re.search(r'<ul class="errorlist"[^>]*>(.*?)</ul>', response.content.decode(), re.S).group(1)


def test_an_unknown_receipt_and_a_wrong_one_get_the_same_answer(world, anonymous, client):
    wrong_secret = anonymous.receipt.locator + "0" * 16
    unknown = "ZZZZZZZZ" + "0" * 16
    first, second = _attempt(client, wrong_secret), _attempt(client, unknown)
    assert first.status_code == second.status_code == 403
    assert _message(first) == _message(second)
    malformed = _attempt(client, "ikke en kvittering")
    assert malformed.status_code == 403 and _message(malformed) == _message(first)


def test_every_attempt_costs_one_argon2_verification(world, anonymous, monkeypatch):
    calls = []
    real = receipts._hasher()

    class Counting:
        def verify(self, hash, secret):
            calls.append(hash)
            return real.verify(hash, secret)

        def hash(self, secret):
            return real.hash(secret)

    monkeypatch.setattr(receipts, "_hasher", lambda: Counting())
    for attempt in (anonymous.receipt.code, anonymous.receipt.locator + "0" * 16, "ZZZZZZZZ" + "0" * 16, "kort"):
        calls.clear()
        try:
            services.open_by_receipt(attempt)
        except services.ReceiptRefused:
            pass
        assert len(calls) == 1, attempt
    # The unknown locator was checked against a hash with the same parameters as real ones.
    params = real.hash("x").rsplit("$", 2)[0]
    assert receipts._dummy_hash().startswith(params)


def test_brute_force_on_a_receipt_is_limited(world, anonymous, client):
    locator = anonymous.receipt.locator
    for n in range(receipts.LOCATOR_FAILURES):
        assert _attempt(client, locator + f"{n:016d}").status_code == 403
    limited = _attempt(client, locator + "1" * 16)
    assert limited.status_code == 429
    # Even the right receipt waits now: the limit does not tell right from wrong.
    assert _attempt(client, anonymous.receipt.code).status_code == 429


def test_brute_force_on_unknown_receipts_is_limited_the_same_way(world, client):
    locator = "ZZZZZZZZ"
    for n in range(receipts.LOCATOR_FAILURES):
        assert _attempt(client, locator + f"{n:016d}").status_code == 403
    assert _attempt(client, locator + "1" * 16).status_code == 429


def test_guessing_across_many_receipts_meets_a_global_limit(world, anonymous, client, monkeypatch):
    monkeypatch.setattr(receipts, "GLOBAL_FAILURES_PER_MINUTE", 3)
    for n in range(3):
        assert _attempt(client, f"{n:08d}" + "0" * 16).status_code == 403
    assert _attempt(client, "99999999" + "0" * 16).status_code == 429


def test_rate_limiting_keeps_no_address_or_locator(world, anonymous, client):
    from django.db import connection

    locator = anonymous.receipt.locator
    _attempt(client, locator + "0" * 16)
    client.post("/varsling/ny/", {"category": "other", "description": "x", "anonymity": "anonymous"},
                REMOTE_ADDR="10.20.30.40")
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key, value FROM tidsnok_cache")
        rows = cursor.fetchall()
    text = repr(rows)
    assert rows
    assert "10.20.30.40" not in text and "127.0.0.1" not in text and locator not in text


def test_the_api_refuses_wrong_receipts_alike_and_limits_them(world, anonymous, client):
    unknown = client.get("/api/v1/reports/receipt", HTTP_X_RECEIPT="ZZZZZZZZ" + "0" * 16)
    wrong = client.get("/api/v1/reports/receipt", HTTP_X_RECEIPT=anonymous.receipt.locator + "0" * 16)
    assert unknown.status_code == wrong.status_code == 403
    assert unknown.json() == wrong.json()
    cache.clear()
    for n in range(receipts.LOCATOR_FAILURES):
        client.get("/api/v1/reports/receipt", HTTP_X_RECEIPT=anonymous.receipt.locator + f"{n:016d}")
    assert client.get("/api/v1/reports/receipt", HTTP_X_RECEIPT=anonymous.receipt.code).status_code == 429
