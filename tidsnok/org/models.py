"""Who works where, and who is responsible for whom."""

from datetime import date

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q
from django.db.models.lookups import StartsWith
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tidsnok.org.collation import CodePointText, sort_key_expression


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra):
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractUser):
    """A login. People without a login exist as Person only."""

    username = None
    email = models.EmailField(_("e-mail"), unique=True)
    language = models.CharField(_("language"), max_length=8, blank=True, default="")

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []
    objects = UserManager()

    def __str__(self):
        return self.email


class Organisation(models.Model):
    name = models.CharField(_("name"), max_length=200)
    org_number = models.CharField(_("organisation number"), max_length=20, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.name


class TreePath(models.CharField):
    """A unit's path (see Unit). Asking for a subtree is asking for the paths that start with
    the subtree's root's path: `path__startswith=unit.path`, also across relations."""


@TreePath.register_lookup
class SubtreeOf(StartsWith):
    """`startswith` on a path, as a range on SQLite: its LIKE is case-insensitive, so it can
    never use the path's index and read all 2,700 units of a large employer (0.6 ms) on every
    page a manager opened. Paths are ASCII and SQLite compares text byte by byte, so the
    strings that start with P are exactly those from P up to (not including) P with its last
    character raised by one. PostgreSQL keeps LIKE: Django gives the column a pattern index
    that LIKE uses, and a range would follow the database's collation, which may ignore the
    slashes."""

    def as_sqlite(self, compiler, connection):
        if not isinstance(self.rhs, str) or not self.rhs:
            return super().as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        upper = self.rhs[:-1] + chr(ord(self.rhs[-1]) + 1)
        return f"({lhs} >= %s AND {lhs} < %s)", (*lhs_params, self.rhs, upper)


class Unit(models.Model):
    """A node in the unit tree. `path` holds the ancestors' ids, zero-padded
    ("/0000000001/0000000004/"), so that
    "this unit and everything below it" is one indexed prefix query."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="units")
    code = models.CharField(_("unit code"), max_length=50)
    name = models.CharField(_("name"), max_length=200)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    path = TreePath(max_length=1000, db_index=True, editable=False, default="")
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "code"], name="unit_code_unique")]
        ordering = ["path"]

    def __str__(self):
        return self.name

    @property
    def ancestor_ids(self) -> list[int]:
        """The ids of the units from the root down to this one (itself last), read from `path`."""
        return [int(part) for part in self.path.strip("/").split("/") if part]

    def compute_path(self):
        # Zero-padded, so that ordering by path is tree order whatever the ids'
        # lengths ("/0000000098/0000000102/" after "/0000000098/").
        prefix = self.parent.path if self.parent_id else "/"
        return f"{prefix}{self.pk:010d}/"


class Person(models.Model):
    """An employee. Holds the minimum HR data needed for follow-up."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="people")
    employee_number = models.CharField(_("employee number"), max_length=50)
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail"), blank=True)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="people")
    position = models.CharField(_("position"), max_length=200, blank=True)
    position_percent = models.PositiveSmallIntegerField(_("position percentage"), default=100)
    start_date = models.DateField(_("start date"), null=True, blank=True)
    end_date = models.DateField(_("end date"), null=True, blank=True)
    user = models.OneToOneField(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="person")
    version = models.PositiveIntegerField(default=1)
    # The name in Norwegian alphabetical order (collation.py); lists sort by it, never by name.
    sort_name = models.GeneratedField(expression=sort_key_expression("name"),
                                      output_field=CodePointText(max_length=200), db_persist=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "employee_number"], name="person_number_unique")
        ]
        indexes = [
            models.Index(fields=["unit", "sort_name"], name="person_unit_sort_name_idx"),
            # Lists of names across the organisation (HR choosing an employee or a handler)
            # stop after a page instead of sorting 50,000 people.
            models.Index(fields=["organisation", "sort_name", "id"], name="person_org_sort_name_idx"),
        ]
        ordering = ["sort_name", "id"]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    MANAGER = "manager", _("Manager")
    DEPUTY = "deputy", _("Deputy manager")
    HR = "hr", _("HR")
    SAFETY_REP = "safety_rep", _("Safety representative")
    AMU = "amu", _("AMU member")
    ADMIN = "admin", _("Administrator")


class RoleAssignmentQuerySet(models.QuerySet):
    def active(self, on: date | None = None):
        on = on or timezone.localdate()
        return self.filter(starts_on__lte=on).filter(Q(ends_on__isnull=True) | Q(ends_on__gte=on))


class RoleAssignment(models.Model):
    """A role held by a person, for a unit (and its sub-units) or the whole
    organisation (unit empty), between two dates. A manager who leaves loses
    access from `ends_on` + 1."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.CASCADE, related_name="roles")
    starts_on = models.DateField(_("starts on"), default=date(2000, 1, 1))
    ends_on = models.DateField(_("ends on"), null=True, blank=True)

    objects = RoleAssignmentQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["person", "role"]),
            models.Index(fields=["unit", "role"]),
        ]

    def __str__(self):
        return f"{self.get_role_display()} {self.unit or ''}".strip()


class OrgImport(models.Model):
    """A record of one organisation import: who, when, and a summary of what changed."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="imports")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL)
    filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    summary = models.JSONField(default=dict)
