"""Reports, their messages and attachments, and retaliation checks are seen exactly as their cases
are: the rule is written as a condition on the row's case (cases.policy.case_condition), checked
here against "the cases the user may see" for every persona and action."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.cases.test_visibility_equivalence import ACTIONS
from tests.whistleblowing.conftest import send
from tidsnok.access.policy import visible
from tidsnok.cases.models import Case
from tidsnok.whistleblowing import retaliation, services
from tidsnok.whistleblowing.models import Attachment, DesignatedHandler, Message, Report, RetaliationCheck

PERSONAS = ["marte", "dina", "helga", "sander", "kim", "hanne", "hugo", "ada", "ask", "siri", "emil", "ella"]


@pytest.fixture
def reports(world):
    """A report HR receives, one that names Hanne (she is shut out, Hugo takes it), one a designated
    committee handles; the first with an attachment and a message from HR."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    with time_machine.travel(datetime(2027, 3, 1, 10, tzinfo=ZoneInfo("Europe/Oslo")), tick=False):
        first = send(world, attachments=[SimpleUploadedFile("vedlegg.txt", b"Vaktlisten for mars.")]).report
        services.send_message(world.user("hanne"), first, "Takk, vi ser på det.")
        send(world, description="HR-sjefen dekker over for lederen.", involved="hanne hr")
        DesignatedHandler.objects.create(organisation=world.org, person=world.siri)
        send(world, user=world.user("emil"), anonymity="named", description="Vaktlistene skrives om i hemmelighet.")
        retaliation.report_change(world.user("hanne"), world.emil, change_type="hours", change_on=date(2027, 3, 2),
                                  justification="Ny turnus for hele enheten.")
    assert Report.objects.count() == 3 and Message.objects.exists() and Attachment.objects.exists()
    assert RetaliationCheck.objects.exists()


def test_a_report_is_seen_exactly_as_its_case(world, reports):
    for persona in PERSONAS:  # one set of reports for all of them: each costs a second to make
        _seen_as_its_case(world, persona)


def _seen_as_its_case(world, persona):
    user = world.user(persona)
    for action in ACTIONS:
        cases = visible(user, Case, action)
        assert set(visible(user, Report, action).values_list("pk", flat=True)) == set(
            Report.objects.filter(case__in=cases).values_list("pk", flat=True)), (persona, action)
        assert set(visible(user, Message, action).values_list("pk", flat=True)) == set(
            Message.objects.filter(report__case__in=cases).values_list("pk", flat=True)), (persona, action)
        assert set(visible(user, Attachment, action).values_list("pk", flat=True)) == set(
            Attachment.objects.filter(report__case__in=cases).values_list("pk", flat=True)), (persona, action)
    # Retaliation checks: the handlers of the case of the protection (any action reads them).
    assert set(visible(user, RetaliationCheck).values_list("pk", flat=True)) == set(
        RetaliationCheck.objects.filter(protection__case__in=visible(user, Case)).values_list("pk", flat=True)), persona
    if persona == "siri":  # somebody sees something: the test cannot pass on empty sets alone
        assert visible(user, Report).exists() and visible(user, RetaliationCheck).exists()
