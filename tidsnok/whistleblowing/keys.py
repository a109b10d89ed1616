"""Key rotation: re-encrypt everything encrypted at rest under the newest key.

ENCRYPTION_KEYS holds the keys, newest first; every key decrypts, the first
encrypts. To rotate (docs/security.md): put a new key first, run
`tidsnok rotate-keys`, check with `tidsnok rotate-keys --check`, then remove
the old key. Each value is decrypted with whichever key made it and encrypted
again with the first; values already under the first key are left as they are,
so the command may be stopped and run again at any time.

What is encrypted (keep this list complete when adding encrypted columns):
- whistleblowing: the report (description, when, involved), messages, attachment
  names and contents, the justification and grounds of retaliation checks;
- absence: a payroll file waiting for the background import (emptied when imported);
- allauth: the TOTP secret and the recovery-code seed of each authenticator.
"""

from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken
from django.db import transaction

from tidsnok import crypto

BATCH = 500


@dataclass(frozen=True)
class Column:
    label: str  # app_label.Model
    field: str
    binary: bool = False


COLUMNS = (
    Column("whistleblowing.Report", "description_enc"),
    Column("whistleblowing.Report", "when_enc"),
    Column("whistleblowing.Report", "involved_enc"),
    Column("whistleblowing.Message", "body_enc"),
    Column("whistleblowing.Attachment", "filename_enc"),
    Column("whistleblowing.Attachment", "data_enc", binary=True),
    Column("whistleblowing.RetaliationCheck", "reported_justification_enc"),
    Column("whistleblowing.RetaliationCheck", "grounds_enc"),
    Column("absence.ImportJob", "content", binary=True),
)
# allauth keeps its encrypted values inside a JSON column: (type, key in data).
AUTHENTICATOR_SECRETS = (("totp", "secret"), ("recovery_codes", "seed"))


@dataclass
class Result:
    rotated: dict[str, int] = field(default_factory=dict)
    current: dict[str, int] = field(default_factory=dict)
    # Values no configured key can read: a key was removed too early.
    unreadable: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, outcome: str):
        counter = getattr(self, outcome)
        counter[what] = counter.get(what, 0) + 1

    @property
    def total_rotated(self) -> int:
        return sum(self.rotated.values())

    @property
    def total_unreadable(self) -> int:
        return sum(self.unreadable.values())


def _newest() -> Fernet:
    return Fernet(crypto._fernet_key(crypto.keys()[0]))


def _state(token: bytes, newest: Fernet) -> str:
    """"current" if the newest key reads it, "rotated" if an older one does, else "unreadable"."""
    try:
        newest.decrypt(token)
        return "current"
    except InvalidToken:
        pass
    try:
        crypto.decrypt_bytes(token)
        return "rotated"
    except InvalidToken:
        return "unreadable"


def _model(label: str):
    from django.apps import apps

    return apps.get_model(label)


def _rows(model, fields, batch):
    """Primary keys in batches, so a large table is never read at once."""
    last = 0
    while True:
        rows = list(model._default_manager.filter(pk__gt=last).order_by("pk").values_list("pk", *fields)[:batch])
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def rotate(*, check_only: bool = False, batch: int = BATCH) -> Result:
    """Re-encrypt every encrypted value under the first key (or, with check_only, only count)."""
    newest = _newest()
    result = Result()
    by_model: dict[str, list[Column]] = {}
    for column in COLUMNS:
        by_model.setdefault(column.label, []).append(column)
    for label, columns in by_model.items():
        model = _model(label)
        names = [c.field for c in columns]
        for rows in _rows(model, names, batch):
            with transaction.atomic():
                for pk, *values in rows:
                    changes = {}
                    for column, value in zip(columns, values):
                        if not value:
                            continue
                        token = bytes(value) if column.binary else value.encode()
                        state = _state(token, newest)
                        result.add(f"{label}.{column.field}", state)
                        if state == "rotated" and not check_only:
                            new = crypto._multi(crypto.keys()).rotate(token)
                            changes[column.field] = new if column.binary else new.decode()
                    if changes:
                        model._default_manager.filter(pk=pk).update(**changes)
    _rotate_authenticators(newest, result, check_only, batch)
    return result


def _rotate_authenticators(newest, result, check_only, batch):
    from allauth.mfa.models import Authenticator

    kinds = dict(AUTHENTICATOR_SECRETS)
    for rows in _rows(Authenticator, ["type", "data"], batch):
        with transaction.atomic():
            for pk, kind, data in rows:
                key = kinds.get(kind)
                if not key or not isinstance(data, dict) or not data.get(key):
                    continue
                what = f"mfa.Authenticator.{kind}"
                state = _state(data[key].encode(), newest)
                result.add(what, state)
                if state == "rotated" and not check_only:
                    data = dict(data)
                    data[key] = crypto.rotate(data[key])
                    Authenticator.objects.filter(pk=pk).update(data=data)
