"""CSV files shared by the import tests. The units come below the test world's ROOT."""

from tidsnok.audit.models import AuditEvent
from tidsnok.org.models import OrgImport, Person, RoleAssignment, Unit

UNITS_CSV = """kode;navn;overordnet;leder
BHG;Barnehager;ROOT;P100
BHG1;Solsikken barnehage;BHG;P101
""".encode()

PEOPLE_CSV = """employee_number,name,email,unit,position,start_date,position_percent,end_date
P100,Berit Styrer,berit@test.no,BHG,Styrer,01.08.2019,100,
P101,Per Pedagog,per@test.no,BHG1,Pedagogisk leder,2021-08-15,80,
P102,Lise Assistent,,BHG1,Assistent,01.01.2024,,31.12.2026
""".encode()

# Changed: BHG renamed, Per moves to BHG full time, Lise renamed and now manages BHG1.
UNITS_CHANGED_CSV = """kode;navn;overordnet;leder
BHG;Barnehagene;ROOT;P100
BHG1;Solsikken barnehage;BHG;P102
""".encode()

PEOPLE_CHANGED_CSV = """employee_number,name,email,unit,position,start_date,position_percent,end_date
P100,Berit Styrer,berit@test.no,BHG,Styrer,01.08.2019,100,
P101,Per Pedagog,per@test.no,BHG,Pedagogisk leder,2021-08-15,100,
P102,Lise Nyland,,BHG1,Assistent,01.01.2024,,31.12.2026
""".encode()


def counts() -> dict:
    return {
        "units": Unit.objects.count(),
        "people": Person.objects.count(),
        "roles": RoleAssignment.objects.count(),
        "events": AuditEvent.objects.count(),
        "imports": OrgImport.objects.count(),
    }
