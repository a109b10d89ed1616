"""`tidsnok import --units units.csv --people people.csv --as admin@example.no`

The same all-or-nothing import as the web page. Errors go to standard error
with file, line and column, and the exit code is 1, so a nightly job from the
HR system notices a bad file.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from tidsnok.org import importer
from tidsnok.org.importing import import_organisation
from tidsnok.org.models import Organisation, User
from tidsnok.org.scope import person_of
from tidsnok.org.services import NotAllowed


class Command(BaseCommand):
    help = "Import units and/or people from CSV files. Checks everything first; writes nothing if any line is wrong."

    def add_arguments(self, parser):
        parser.add_argument("--units", help="CSV file of units (code, name, parent, manager)")
        parser.add_argument("--people", help="CSV file of people (employee_number, name, email, unit, position, start_date, ...)")
        parser.add_argument("--as", dest="actor", required=True, metavar="EMAIL",
                            help="E-mail of the administrator the import is recorded for")
        parser.add_argument("--organisation", type=int, metavar="ID",
                            help="Organisation id; needed only when the administrator has no person record")
        parser.add_argument("--language", choices=[code for code, _name in settings.LANGUAGES],
                            help="Language of the messages (default: the administrator's, else the site's)")

    def handle(self, *args, **options):
        if not options["units"] and not options["people"]:
            raise CommandError("Give --units, --people or both.")
        actor = User.objects.filter(email=options["actor"].strip().lower(), is_active=True).first()
        if actor is None:
            raise CommandError(f"No active login with the e-mail address {options['actor']}.")
        organisation = self._organisation(actor, options["organisation"])
        files = {importer.UNITS: options["units"], importer.PEOPLE: options["people"]}
        data = {kind: self._read(path) for kind, path in files.items()}
        with translation.override(options["language"] or actor.language or settings.LANGUAGE_CODE):
            try:
                result = import_organisation(
                    actor, organisation, units_file=data[importer.UNITS], people_file=data[importer.PEOPLE],
                    filename=", ".join(Path(path).name for path in files.values() if path),
                )
            except NotAllowed as exc:
                raise CommandError(str(exc)) from exc
            if not result.ok:
                for error in result.errors:
                    self.stderr.write(self._describe(error, files[error.file]))
                raise CommandError(_("Nothing was imported. Errors: %(count)d.") % {"count": len(result.errors)},
                                   returncode=1)
            counts = result.summary["counts"]
            self.stdout.write(_(
                "Imported. Units created: %(units_created)d, changed: %(units_changed)d. "
                "People created: %(people_created)d, changed: %(people_changed)d. "
                "Managers changed: %(managers_changed)d."
            ) % counts)

    def _organisation(self, actor, organisation_id):
        if organisation_id is not None:
            organisation = Organisation.objects.filter(pk=organisation_id).first()
            if organisation is None:
                raise CommandError(f"No organisation with id {organisation_id}.")
            return organisation
        person = person_of(actor)
        if person is not None:
            return person.organisation
        raise CommandError("The login has no person record: give --organisation.")

    def _read(self, path):
        if not path:
            return None
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from exc

    def _describe(self, error, path) -> str:
        if error.line is None:
            return _("%(file)s: %(reason)s") % {"file": path, "reason": error.reason}
        if not error.column:
            return _("%(file)s, line %(line)d: %(reason)s") % {"file": path, "line": error.line, "reason": error.reason}
        return _("%(file)s, line %(line)d, column %(column)s: %(reason)s") % {
            "file": path, "line": error.line, "column": error.column, "reason": error.reason}
