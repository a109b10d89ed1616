"""Key rotation: re-encrypt with a new key, old reports still readable, then the old key is removed."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests.conftest import enrol_totp
from tests.whistleblowing.conftest import send
from tidsnok import crypto
from tidsnok.whistleblowing import retaliation, services
from tidsnok.whistleblowing.models import Attachment, Message, Report, RetaliationCheck

OLD = "old-encryption-key-for-the-rotation-test-0123456789"
NEW = "new-encryption-key-for-the-rotation-test-9876543210"


def _everything(world):
    """A report with a message, an attachment and a retaliation check, and a TOTP secret, under OLD."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    submitted = send(world, user=world.user("emil"), anonymity="named", description="Rapporten i klartekst.",
                     involved="Noen", attachments=[SimpleUploadedFile("vedlegg.txt", b"Vedlegget i klartekst.")])
    services.send_message(world.user("hanne"), submitted.report, "Meldingen i klartekst.")
    retaliation.report_change(world.user("hanne"), world.emil, change_type="tasks", change_on=date.today(),
                              justification="Begrunnelsen i klartekst.")
    enrol_totp(world.user("ada"))
    return submitted.report


def _readable(report_id):
    report = Report.objects.get(pk=report_id)
    content = services.content_of(report)
    return (
        content.description, services.body_of(Message.objects.get()), services.data_of(Attachment.objects.get()),
        crypto.decrypt(RetaliationCheck.objects.get().reported_justification_enc),
    )


def _totp_secret(user):
    from allauth.mfa.models import Authenticator

    return crypto.decrypt(Authenticator.objects.get(user=user, type="totp").data["secret"])


def test_rotating_re_encrypts_everything_under_the_new_key_and_the_old_key_can_go(world):
    with override_settings(ENCRYPTION_KEYS=OLD):
        report = _everything(world)
        before = _readable(report.pk)
        secret = _totp_secret(world.user("ada"))
        raw_before = Report.objects.values_list("description_enc", flat=True).get()
    expected = ("Rapporten i klartekst.", "Meldingen i klartekst.", b"Vedlegget i klartekst.", "Begrunnelsen i klartekst.")
    assert before == expected

    with override_settings(ENCRYPTION_KEYS=f"{NEW},{OLD}"):
        # Old reports stay readable while both keys are configured.
        assert _readable(report.pk) == expected
        with pytest.raises(CommandError):
            call_command("rotate-keys", "--check", stdout=StringIO())
        out = StringIO()
        call_command("rotate-keys", "--batch-size", "1", stdout=out)
        assert "Re-encrypted" in out.getvalue()
        assert Report.objects.values_list("description_enc", flat=True).get() != raw_before
        call_command("rotate-keys", "--check", stdout=StringIO())
        # Running it again changes nothing.
        again = StringIO()
        call_command("rotate-keys", stdout=again)
        assert "Everything is under the first key." in again.getvalue()

    with override_settings(ENCRYPTION_KEYS=NEW):
        assert _readable(report.pk) == expected
        assert _totp_secret(world.user("ada")) == secret
        call_command("rotate-keys", "--check", stdout=StringIO())

    with override_settings(ENCRYPTION_KEYS=OLD):
        # The old key alone reads nothing any more.
        from cryptography.fernet import InvalidToken

        with pytest.raises(InvalidToken):
            _readable(report.pk)


def test_removing_the_old_key_too_early_is_reported(world):
    with override_settings(ENCRYPTION_KEYS=OLD):
        _everything(world)
    with override_settings(ENCRYPTION_KEYS=NEW):
        with pytest.raises(CommandError, match="cannot be read"):
            call_command("rotate-keys", stdout=StringIO())


def test_rotation_is_on_the_audit_log(world):
    from tidsnok.audit.models import AuditEvent

    with override_settings(ENCRYPTION_KEYS=OLD):
        _everything(world)
    with override_settings(ENCRYPTION_KEYS=f"{NEW},{OLD}"):
        call_command("rotate-keys", stdout=StringIO())
    event = AuditEvent.objects.get(action="crypto.keys_rotated")
    assert event.data["values"] >= 6
