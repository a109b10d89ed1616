"""Personal API tokens, managed by the operator.

    tidsnok token create --user kari@example.no [--name "HR system"]
    tidsnok token list --user kari@example.no
    tidsnok token revoke --id 12        (or --prefix tn_AbCdEfGh)

The raw token is printed once, by `create`; only its hash is stored, so a lost
token is revoked and replaced, never recovered. A token works for the API
without the second factor that HR and administrators need in the browser: the
operator issues it deliberately, to one person, and can revoke it at any time.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tidsnok.access import services
from tidsnok.access.models import ApiToken
from tidsnok.org.models import User


def _when(value) -> str:
    return timezone.localtime(value).strftime("%d.%m.%Y %H:%M") if value else "-"


class Command(BaseCommand):
    help = "Create, list and revoke personal API tokens."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="{create,list,revoke}")

        create = actions.add_parser("create", help="Issue a token; it is printed once.")
        create.add_argument("--user", required=True, help="E-mail address of the login the token acts as.")
        create.add_argument("--name", default="", help="What the token is for, e.g. the integration's name.")

        listing = actions.add_parser("list", help="List a user's tokens (never the tokens themselves).")
        listing.add_argument("--user", required=True, help="E-mail address of the login.")

        revoke = actions.add_parser("revoke", help="Stop a token from working.")
        which = revoke.add_mutually_exclusive_group(required=True)
        which.add_argument("--id", type=int, help="The token's id, as shown by `list`.")
        which.add_argument("--prefix", help="The token's prefix, as shown by `list` (tn_...).")

    def handle(self, *args, **options):
        getattr(self, f"_{options['action']}")(options)

    def _user(self, email: str) -> User:
        user = User.objects.filter(email=email.strip().lower()).first()
        if user is None:
            raise CommandError(f"No user with the e-mail address {email}.")
        return user

    def _create(self, options):
        user = self._user(options["user"])
        try:
            token, raw = services.create_token(None, user, options["name"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(raw)
        # On stderr, so that `tidsnok token create ... > file` captures the token alone.
        self.stderr.write(
            f"Token {token.pk} ({token.prefix}) for {user.email}. "
            "Store it now: it is not shown again."
        )

    def _list(self, options):
        user = self._user(options["user"])
        tokens = ApiToken.objects.filter(user=user).order_by("created_at", "id")
        if not tokens:
            self.stdout.write(f"{user.email} has no tokens.")
            return
        self.stdout.write(f"{'id':>5}  {'prefix':<12}  {'created':<16}  {'last used':<16}  {'revoked':<16}  name")
        for token in tokens:
            self.stdout.write(
                f"{token.pk:>5}  {token.prefix:<12}  {_when(token.created_at):<16}  "
                f"{_when(token.last_used_at):<16}  {_when(token.revoked_at):<16}  {token.name}"
            )

    def _revoke(self, options):
        if options["id"] is not None:
            token = ApiToken.objects.select_related("user").filter(pk=options["id"]).first()
            if token is None:
                raise CommandError(f"No token with id {options['id']}.")
        else:
            matches = list(ApiToken.objects.select_related("user").filter(prefix=options["prefix"])[:2])
            if not matches:
                raise CommandError(f"No token with the prefix {options['prefix']}.")
            if len(matches) > 1:
                raise CommandError(f"Several tokens have the prefix {options['prefix']}; revoke by --id.")
            token = matches[0]
        if services.revoke_token(None, token):
            self.stdout.write(f"Token {token.pk} ({token.prefix}) of {token.user.email} is revoked.")
        else:
            self.stdout.write(f"Token {token.pk} ({token.prefix}) was already revoked.")
