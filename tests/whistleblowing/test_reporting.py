"""The reporting channel: sending a report, named, confidential or anonymous."""

import io
import logging
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from tests.whistleblowing.conftest import send
from tidsnok import crypto
from tidsnok.audit.models import AuditEvent
from tidsnok.cases.models import Case, Entry, Kind, PartyRole
from tidsnok.whistleblowing import services
from tidsnok.whistleblowing.attachments import strip_jpeg, strip_png
from tidsnok.whistleblowing.models import Anonymity, Attachment, Category, Protection, Report

SECRET_TEXT = "Økonomisjefen fakturerer kommunen for private reiser til Spania"


def _form(**extra):
    data = {
        "category": "financial_crime", "description": SECRET_TEXT, "when": "I høst", "involved": "",
        "anonymity": "anonymous",
    }
    data.update(extra)
    return data


# --- the page ---------------------------------------------------------------------------------------


def test_the_reporting_page_opens_without_logging_in(world, client):
    response = client.get("/varsling/")
    assert response.status_code == 200
    assert "Test-kommune" in response.content.decode()
    response = client.get("/varsling/ny/")
    assert response.status_code == 200
    body = response.content.decode()
    for category in Category.values:
        assert f'value="{category}"' in body
    assert response["Cache-Control"] == "no-store, private"


def test_the_reporting_page_opens_from_inside_tidsnok(world, client):
    client.force_login(world.user("emil"))
    assert client.get("/varsling/ny/").status_code == 200
    assert "/varsling/" in client.get("/").content.decode()


def test_an_anonymous_report_through_the_page_shows_the_receipt_once(world, client):
    response = client.post("/varsling/ny/", _form())
    assert response.status_code == 200
    report = Report.objects.get()
    body = response.content.decode()
    assert report.receipt_locator[:4] in body
    assert response["Cache-Control"] == "no-store, private"
    # The receipt is in the answer, not in a redirect, a cookie or the session.
    assert "Location" not in response
    assert not client.session.keys()


def test_a_report_without_a_description_is_refused_with_linked_errors(world, client):
    response = client.post("/varsling/ny/", _form(description="", category=""))
    assert response.status_code == 400
    body = response.content.decode()
    assert 'href="#id_description"' in body
    assert 'href="#id_category_0"' in body
    assert not Report.objects.exists()


def test_naming_yourself_needs_a_login(world, client):
    response = client.post("/varsling/ny/", _form(anonymity="named"))
    assert response.status_code == 400
    assert not Report.objects.exists()
    with pytest.raises(ValidationError) as error:
        send(world, anonymity="confidential")
    assert "anonymity" in error.value.message_dict


def test_several_organisations_ask_for_the_organisation_number(world, client):
    from tidsnok.org import services as org_services

    org_services.create_organisation(None, "Annen AS", "987654321")
    response = client.get("/varsling/ny/")
    assert 'name="organisation"' in response.content.decode()
    response = client.post("/varsling/ny/", _form(organisation="123 456 789"))
    assert response.status_code == 200
    assert Report.objects.get().organisation == world.org


# --- what is stored -----------------------------------------------------------------------------------


def test_an_anonymous_report_stores_nothing_about_who_sent_it(world, client):
    client.force_login(world.user("ella"))  # logged in, yet anonymous
    client.post("/varsling/ny/", _form())
    report = Report.objects.get()
    case = report.case
    assert report.anonymity == Anonymity.ANONYMOUS and report.reporter is None
    assert case.kind == Kind.WHISTLEBLOWING and case.restricted
    assert case.created_by is None
    assert not case.parties.exists()
    assert case.unit == world.units["ROOT"]
    assert not Protection.objects.exists()
    assert AuditEvent.objects.filter(actor=world.user("ella")).count() == 0


def test_an_anonymous_report_keeps_the_date_only(world):
    submitted = send(world)
    case = Case.objects.get(pk=submitted.report.case_id)
    stamps = [case.created_at] + [e.recorded_at for e in case.entries.all()]
    stamps += [h.added_at for h in case.handlers.all()]
    stamps += list(AuditEvent.objects.filter(action__in=["case.opened", "whistleblowing.report_received"])
                   .values_list("time", flat=True))
    # The handler's in-app notification of the new report says the day, not the time.
    from tidsnok.notify.models import Notification

    notifications = list(Notification.objects.filter(case=case).values_list("created_at", flat=True))
    assert notifications
    stamps += notifications
    from django.utils import timezone

    for stamp in stamps:
        local = timezone.localtime(stamp)
        assert (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0), stamp


def test_the_audit_chain_still_verifies_with_day_only_events(world):
    from tidsnok.audit.services import verify_chain

    send(world)
    assert verify_chain().ok


def test_a_named_report_protects_the_reporter_against_retaliation(world):
    submitted = send(world, user=world.user("emil"), anonymity="named")
    report = submitted.report
    assert submitted.receipt is None and report.receipt_hash == ""
    assert report.reporter == world.emil
    assert report.case.parties.filter(person=world.emil, role=PartyRole.REPORTER).exists()
    protection = Protection.objects.get(person=world.emil)
    assert protection.case == report.case and protection.reason == "reported"
    # The reporter is not the actor of anything: the audit log, which administrators read, does not name her.
    assert not AuditEvent.objects.filter(actor=world.user("emil")).exists()


def test_a_reporter_who_is_hr_does_not_handle_her_own_report(world):
    from tidsnok.access.policy import visible

    submitted = send(world, user=world.user("hanne"), anonymity="confidential")
    case = submitted.report.case
    assert not case.handlers.filter(person=world.hanne, removed_at__isnull=True).exists()
    assert case.exclusions.filter(person=world.hanne).exists()
    assert not visible(world.user("hanne"), Case).filter(pk=case.pk).exists()
    # Someone else handles it.
    assert case.handlers.filter(removed_at__isnull=True).exists()


def test_the_database_alone_reveals_nothing_of_the_content(world):
    submitted = send(world, description=SECRET_TEXT, when="Siden mars 2026", involved="Per Økonomisjef")
    services.add_reporter_message(None, submitted.report, "Han har også brukt firmakortet i helgene")
    services.send_message(world.user("hanne"), submitted.report, "Kan du si mer om firmakortet?")
    with connection.cursor() as cursor:
        dump = []
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')
            dump.extend(repr(row) for row in cursor.fetchall())
    dump = "\n".join(dump)
    for clear in (SECRET_TEXT, "Siden mars 2026", "Per Økonomisjef", "firmakortet"):
        assert clear not in dump
    # Handlers read it decrypted.
    content = services.content_of(Report.objects.get())
    assert content.description == SECRET_TEXT and content.involved == "Per Økonomisjef"


def test_the_request_log_does_not_show_the_reporting_channel(world, client, caplog):
    caplog.set_level(logging.INFO, logger="tidsnok.request")
    client.force_login(world.user("emil"))
    client.post("/varsling/ny/", _form(), HTTP_USER_AGENT="Agent-Orange/1.0", REMOTE_ADDR="10.9.8.7")
    lines = [r.getMessage() for r in caplog.records if r.name == "tidsnok.request"]
    assert lines and all("[reporting channel]" in line and "user=-" in line for line in lines)
    assert "varsling" not in caplog.text and "10.9.8.7" not in caplog.text and "Agent-Orange" not in caplog.text


# --- attachments ----------------------------------------------------------------------------------------

def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


JPEG_WITH_EXIF = (
    b"\xff\xd8"
    + _segment(0xE1, b"Exif\x00\x00GPS-60.39N")
    + _segment(0xFE, b"Kari Nord")
    + _segment(0xDB, b"\x00\x01\x02")
    + _segment(0xDA, b"\x00\x00") + b"PIXELS" + b"\xff\xd9"
)


def _png_with_text() -> bytes:
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", b"\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00")
            + chunk(b"tEXt", b"Author\x00Kari Nord") + chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00"))
            + chunk(b"IEND", b""))


def _docx_with_author() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("docProps/core.xml", "<cp:coreProperties><dc:creator>Kari Nord</dc:creator></cp:coreProperties>")
        z.writestr("word/document.xml", "<w:document>Innhold</w:document>")
    return out.getvalue()


def test_pictures_lose_their_location_and_author(world):
    cleaned = strip_jpeg(JPEG_WITH_EXIF)
    assert b"GPS" not in cleaned and b"Kari Nord" not in cleaned
    assert cleaned.startswith(b"\xff\xd8") and b"PIXELS" in cleaned and b"\xff\xdb" in cleaned
    png = strip_png(_png_with_text())
    assert b"Kari Nord" not in png and b"IDAT" in png and png.endswith(b"IEND\xaeB`\x82")


def test_attachments_are_cleaned_and_stored_encrypted(world, client):
    upload = [
        SimpleUploadedFile("bilde.jpg", JPEG_WITH_EXIF, content_type="image/jpeg"),
        SimpleUploadedFile("notat.docx", _docx_with_author(), content_type="application/octet-stream"),
    ]
    response = client.post("/varsling/ny/", {**_form(), "attachments": upload})
    assert response.status_code == 200, response.content.decode()[:2000]
    rows = {services.filename_of(a): a for a in Attachment.objects.all()}
    assert set(rows) == {"bilde.jpg", "notat.docx"}
    assert rows["bilde.jpg"].content_type == "image/jpeg"
    assert b"Kari Nord" not in services.data_of(rows["bilde.jpg"])
    docx = zipfile.ZipFile(io.BytesIO(services.data_of(rows["notat.docx"])))
    assert b"Kari Nord" not in docx.read("docProps/core.xml")
    assert docx.read("word/document.xml") == b"<w:document>Innhold</w:document>"
    for row in rows.values():
        assert b"Kari Nord" not in bytes(row.data_enc) and b"bilde" not in row.filename_enc.encode()


@pytest.mark.parametrize("name,data,message", [
    ("skript.exe", b"MZ\x90\x00", "not accepted"),
    ("falsk.pdf", b"<html>", "not the kind of file"),
    ("tom.pdf", b"", "empty"),
])
def test_attachments_of_the_wrong_kind_are_refused(world, client, name, data, message):
    client.cookies["django_language"] = "en"
    response = client.post("/varsling/ny/", {**_form(), "attachments": [SimpleUploadedFile(name, data)]},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Report.objects.exists()


def test_too_many_attachments_are_refused(world):
    files = [SimpleUploadedFile(f"f{i}.txt", b"tekst") for i in range(6)]
    with pytest.raises(ValidationError) as error:
        send(world, attachments=files)
    assert "attachments" in error.value.message_dict


def test_uploads_never_touch_the_disk(world, client, monkeypatch):
    from django.core.files.uploadhandler import TemporaryFileUploadHandler

    def refuse(*args, **kwargs):
        raise AssertionError("an upload was written to a temporary file")

    monkeypatch.setattr(TemporaryFileUploadHandler, "new_file", refuse)
    big = SimpleUploadedFile("stor.pdf", b"%PDF-1.4\n" + b"0" * (3 * 1024 * 1024))
    response = client.post("/varsling/ny/", {**_form(), "attachments": [big]})
    assert response.status_code == 200
    assert Attachment.objects.get().size > 3 * 1024 * 1024


def test_the_channel_takes_a_limited_number_of_reports_a_minute(world, monkeypatch):
    from tidsnok.whistleblowing import receipts

    monkeypatch.setattr(receipts, "SUBMISSIONS_PER_MINUTE", 2)
    send(world)
    send(world)
    with pytest.raises(services.ChannelBusy):
        send(world)
    assert Report.objects.count() == 2


def test_entries_of_a_report_name_no_content(world):
    submitted = send(world, description=SECRET_TEXT)
    services.add_reporter_message(None, submitted.report, "Mer informasjon om reisene")
    for entry in Entry.objects.filter(case=submitted.report.case):
        assert "reisene" not in entry.text and SECRET_TEXT not in entry.text
    for event in AuditEvent.objects.all():
        assert "reisene" not in repr(event.data) and "Spania" not in repr(event.data)


def test_the_encrypted_fields_decrypt_with_the_configured_keys(world):
    report = send(world, description=SECRET_TEXT).report
    assert crypto.decrypt(report.description_enc) == SECRET_TEXT


def test_the_reporting_form_is_protected_against_cross_site_posts(world):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/varsling/ny/", _form())
    assert response.status_code == 403
    assert not Report.objects.exists()


def test_the_handlers_hear_of_an_anonymous_report_by_mail_at_seven_not_at_the_minute_it_came(world):
    import datetime as dt
    from zoneinfo import ZoneInfo

    import time_machine
    from django.utils import timezone

    from tidsnok.notify.models import Mail
    from tidsnok.notify.sweep import run_round

    oslo = ZoneInfo("Europe/Oslo")
    with time_machine.travel(dt.datetime(2026, 12, 3, 14, 37, 12, tzinfo=oslo), tick=False):
        submitted = send(world)
    mails = list(Mail.objects.filter(data__case_id=submitted.report.case_id))
    assert mails  # the handlers are told, by e-mail too
    for mail in mails:
        assert timezone.localtime(mail.next_attempt_at) == dt.datetime(2026, 12, 4, 7, 0, tzinfo=oslo)
        local = timezone.localtime(mail.created_at)
        assert (local.hour, local.minute, local.second) == (0, 0, 0)  # the day only, like the rest
    with time_machine.travel(dt.datetime(2026, 12, 4, 6, 59, tzinfo=oslo), tick=False):
        run_round("test")
    assert not Mail.objects.filter(pk__in=[m.pk for m in mails], sent_at__isnull=False).exists()
    with time_machine.travel(dt.datetime(2026, 12, 4, 7, 1, tzinfo=oslo), tick=False):
        run_round("test")
    assert Mail.objects.filter(pk__in=[m.pk for m in mails], sent_at__isnull=False).count() == len(mails)


def test_the_handlers_hear_of_a_named_report_at_once(world):
    from django.utils import timezone

    from tidsnok.notify.models import Mail

    before = timezone.now()
    submitted = send(world, user=world.user("emil"), anonymity="named")
    mails = list(Mail.objects.filter(data__case_id=submitted.report.case_id))
    assert mails and all(before <= mail.next_attempt_at <= timezone.now() for mail in mails)


def test_the_bell_shows_an_anonymous_report_at_seven_too_and_a_named_one_at_once(world, client):
    import datetime as dt
    from zoneinfo import ZoneInfo

    import time_machine

    from tidsnok.notify import services as notify_services
    from tidsnok.notify.models import Notification

    oslo = ZoneInfo("Europe/Oslo")
    with time_machine.travel(dt.datetime(2026, 12, 3, 14, 37, 12, tzinfo=oslo), tick=False):
        anonymous = send(world)
    rows = Notification.objects.filter(case_id=anonymous.report.case_id)
    handlers = [row.user for row in rows]
    assert handlers
    handler = handlers[0]
    from tests.conftest import enrol_totp

    enrol_totp(handler)
    with time_machine.travel(dt.datetime(2026, 12, 3, 14, 38, tzinfo=oslo), tick=False):
        client.force_login(handler)
        assert not Notification.objects.shown().filter(case_id=anonymous.report.case_id).exists()
        response = client.get("/meldinger/")
        assert response.status_code == 200 and anonymous.report.case.number not in response.content.decode()
        assert notify_services.mark_read(handler) == 0  # nothing she cannot see is marked read
    with time_machine.travel(dt.datetime(2026, 12, 4, 7, 0, 1, tzinfo=oslo), tick=False):
        assert Notification.objects.shown().filter(case_id=anonymous.report.case_id).count() == len(handlers)
        client.force_login(handler)  # a new working day, a new session
        response = client.get("/meldinger/")
        assert response.status_code == 200 and anonymous.report.case.number in response.content.decode()
    named = send(world, user=world.user("emil"), anonymity="named")
    assert Notification.objects.shown().filter(case_id=named.report.case_id).exists()


def test_a_report_sent_just_before_seven_is_mailed_at_seven_the_same_morning():
    import datetime as dt
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from tidsnok.notify.services import anonymous_mail_time

    oslo = ZoneInfo("Europe/Oslo")
    with timezone.override(oslo):
        assert anonymous_mail_time(dt.datetime(2026, 12, 4, 6, 59, tzinfo=oslo)) == dt.datetime(2026, 12, 4, 7, 0, tzinfo=oslo)
        assert anonymous_mail_time(dt.datetime(2026, 12, 4, 7, 0, tzinfo=oslo)) == dt.datetime(2026, 12, 5, 7, 0, tzinfo=oslo)
        # Across the change to summer time the hour is still seven, local time.
        assert anonymous_mail_time(dt.datetime(2027, 3, 27, 23, 0, tzinfo=oslo)) == dt.datetime(2027, 3, 28, 7, 0, tzinfo=oslo)
