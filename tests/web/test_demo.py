from django.core.management import call_command

from tidsnok.audit.services import verify_chain
from tidsnok.cases.models import Case, Kind
from tidsnok.org.models import Person


def test_the_demo_loads_eksempel_kommune_with_cases_and_running_it_again_adds_nothing(db, capsys):
    call_command("demo", password="demo-passord-1234")
    people, cases = Person.objects.count(), Case.objects.count()
    assert people >= 55
    kinds = set(Case.objects.values_list("kind", flat=True))
    assert {Kind.PSYCHOSOCIAL, Kind.CONFLICT, Kind.HARASSMENT} <= kinds
    # The demo manager is accused in the harassment case: she is shut out of it.
    harassment = Case.objects.get(kind=Kind.HARASSMENT)
    assert harassment.exclusions.filter(person__user__email="leder@tidsnok.test").exists()
    call_command("demo", password="demo-passord-1234")
    assert (Person.objects.count(), Case.objects.count()) == (people, cases)
    assert verify_chain().ok
    assert "TOTP secret for hr@tidsnok.test" in capsys.readouterr().out
