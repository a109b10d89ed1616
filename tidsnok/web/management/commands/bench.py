"""`tidsnok bench <subcommand>`: benchmarks, one subcommand per room.

The command only dispatches. Each subcommand lives in its room's module, which
provides HELP, add_arguments(parser) and run(command, options); adding one is
one line in SUBCOMMANDS (plus the room's module).
"""

from importlib import import_module

from django.core.management.base import BaseCommand

SUBCOMMANDS = {
    "audit": "tidsnok.audit.bench",
    "absence": "tidsnok.absence.bench",
    "sweep": "tidsnok.notify.bench",
    "load": "tidsnok.web.loadbench",
    "actions": "tidsnok.web.actionbench",
    "retention": "tidsnok.retention.bench",
}


class Command(BaseCommand):
    help = "Benchmarks: " + ", ".join(SUBCOMMANDS) + ". Figures come from here, never from tests."

    def add_arguments(self, parser):
        subcommands = parser.add_subparsers(dest="subcommand", required=True, metavar="subcommand")
        for name, module_path in SUBCOMMANDS.items():
            module = import_module(module_path)
            module.add_arguments(subcommands.add_parser(name, help=module.HELP, description=module.HELP))

    def handle(self, *args, subcommand, **options):
        import_module(SUBCOMMANDS[subcommand]).run(self, options)
