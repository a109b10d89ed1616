"""`tidsnok copydb --from URL`: copy a whole tidsnok database into the configured one.

For operators who outgrow SQLite and move to PostgreSQL (docs/deployment.md,
"Moving from SQLite to PostgreSQL"), and for load tests on an organisation
generated into SQLite. It lives in the web room because it copies the tables of
every room; it names none of them: it copies every concrete model Django knows
(with the auto-created many-to-many tables), row by row, primary keys included.

- It writes nothing unless every check passes: both databases have applied the
  same migrations, the target holds no data (the content types and permissions
  that `migrate` writes itself are replaced by the source's, with the source's
  ids, since other rows refer to them), and they are two different databases.
- One transaction on the target: every row or none. The source is only read
  (SQLite is opened read-only, PostgreSQL in a read-only session), in one
  transaction too, so the copy is one consistent state of it.
- Values are copied as stored: each column is read through the source
  connection's converters and written through the target field's database
  preparation, never through model instances, save(), signals or pre_save
  (auto_now would restamp dates). Encrypted columns are text and binary fields
  holding ciphertext, so ciphertext stays ciphertext (a field class that
  decrypts and encrypts by itself would be copied as stored: see stored_as()),
  and the audit chain, which hashes the canonical form of the values read
  back, still verifies.
- Memory is bounded: the source is read 2,000 rows at a time, in primary key
  order with keyset pagination (WHERE pk > last), and streamed into the target
  (COPY FROM STDIN on PostgreSQL, executemany elsewhere).
"""

import os
import secrets
import time
from contextlib import contextmanager
from urllib.parse import quote, urlsplit, urlunsplit

import dj_database_url
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, connections, models, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import ConnectionDoesNotExist, load_backend

SOURCE_ALIAS = "copydb_source"
CHUNK = 2000
# Rows that `migrate` writes by itself (post_migrate): they are not data, and
# the source's replace them with their ids. Permissions first: they refer to
# content types.
MADE_BY_MIGRATE = ("auth.permission", "contenttypes.contenttype")
SESSIONS = "sessions.session"
# PostgreSQL targets are written with COPY FROM STDIN (psycopg's cursor.copy()),
# other databases with executemany. Measured on the 598,625 audit events of the
# 50,000-employee organisation (from SQLite, on the shared 2-core machine of
# docs/performance.md), reading and preparing them included (about 18 s CPU):
# COPY 28.8 s wall and 21.5 s CPU in all, executemany (pipelined by psycopg)
# 74.4 s wall and 32.0 s CPU.
USE_COPY_ON_POSTGRESQL = True


class Refused(CommandError):
    """A check failed before anything was written."""


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc[-1]}"))


def describe(connection, path: str | None = None) -> str:
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"SQLite {path or config['NAME']}"
    host = config.get("HOST") or "localhost"
    port = f":{config['PORT']}" if config.get("PORT") else ""
    return f"{connection.display_name} {config['NAME']} on {host}{port}"


def read_only_config(url: str) -> tuple[dict, str | None]:
    """The source's settings, opened read-only where the backend allows it, and
    for SQLite the database file's path."""
    try:
        config = dj_database_url.parse(url)
    except Exception as exc:  # dj_database_url raises ValueError, KeyError... for what it cannot parse
        raise Refused(f"--from {without_password(url)} is not a database URL: {exc}") from exc
    options = dict(config.get("OPTIONS") or {})
    path = None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        name = config.get("NAME") or ""
        if not name or name == ":memory:" or name.startswith("file:"):
            raise Refused(f"--from {url}: give the SQLite database as sqlite:////absolute/path/to/file.sqlite3")
        path = os.path.abspath(name)
        if not os.path.isfile(path):
            raise Refused(f"There is no SQLite database at {path}.")
        # mode=ro: SQLite itself refuses any write. Django opens every SQLite
        # database as a URI; a ?mode=... in --from would reach sqlite3.connect()
        # as an unknown argument, so it is dropped here.
        options.pop("mode", None)
        config["NAME"] = f"file:{quote(path)}?mode=ro"
    elif config["ENGINE"] == "django.db.backends.postgresql":
        options["options"] = f"{options.get('options', '')} -c default_transaction_read_only=on".strip()
    config["OPTIONS"] = options
    return config, path


def alias_taken(alias: str) -> bool:
    try:
        connections[alias]
    except ConnectionDoesNotExist:
        return False
    return True


@contextmanager
def source_database(url: str):
    """The database at `url` as a second connection, under SOURCE_ALIAS, for the
    duration of the block; closed and forgotten afterwards.

    The connection is made as ConnectionHandler.create_connection() makes one,
    from settings completed by configure_settings(), and set on `connections`
    without entering DATABASES (which stays as configured): Django treats such
    a connection as dynamically created, usable with .using(SOURCE_ALIAS) and
    transaction.atomic(using=SOURCE_ALIAS) in this thread, and never opened or
    closed by anything but this block."""
    config, path = read_only_config(url)
    if alias_taken(SOURCE_ALIAS):
        raise CommandError(f"A database alias {SOURCE_ALIAS!r} is configured already.")
    config = connections.configure_settings({DEFAULT_DB_ALIAS: config})[DEFAULT_DB_ALIAS]
    try:
        source = load_backend(config["ENGINE"]).DatabaseWrapper(config, SOURCE_ALIAS)
    except ImproperlyConfigured as exc:  # e.g. mysql:// without mysqlclient installed
        raise Refused(f"Cannot use the source database {without_password(url)}: {exc}") from exc
    connections[SOURCE_ALIAS] = source
    try:
        try:
            source.ensure_connection()
        except Exception as exc:
            raise Refused(f"Cannot open the source database {without_password(url)}: {exc}") from exc
        yield source, path
    finally:
        source.close()
        del connections[SOURCE_ALIAS]


def stored_as(field):
    """The field a column is read and written through: the model's own field if
    Django defines its class, else a plain Django field of the same internal type.

    A field class of tidsnok's own or of a library may transform values on the
    way in and out (decrypt in from_db_value(), encrypt in get_prep_value());
    through it, ciphertext would be decrypted and encrypted anew, and differ.
    tidsnok has no such field today: this keeps it so if one is added."""
    if type(field).__module__.startswith("django."):
        return field
    internal = field.get_internal_type()
    plain_class = getattr(models, internal, None)
    kwargs = {k: getattr(field, k) for k in ("max_length", "max_digits", "decimal_places") if hasattr(field, k)}
    try:
        if not (isinstance(plain_class, type) and issubclass(plain_class, models.Field)):
            raise TypeError(internal)
        plain = plain_class(null=field.null, primary_key=field.primary_key, **kwargs)
    except TypeError as exc:
        raise CommandError(f"{field.model._meta.label}.{field.name}: copydb cannot copy a {type(field).__name__} "
                           f"as stored ({exc})") from exc
    plain.set_attributes_from_name(field.name)
    plain.db_column, plain.column = field.db_column, field.column
    plain.model = field.model
    return plain


class Table:
    """One table to copy: its columns, how to read them from the source and how
    to write them to the target."""

    def __init__(self, model, source, target):
        opts = model._meta
        self.model = model
        self.name = opts.db_table
        # Generated columns are computed by the database, never inserted.
        self.fields = [f for f in opts.local_concrete_fields if not getattr(f, "generated", False)]
        if opts.pk not in self.fields:
            raise CommandError(f"{self.name}: copying a table without a single-column primary key is not supported")
        self.pk_index = self.fields.index(opts.pk)
        self.source, self.target = source, target
        self.columns = []
        for field in map(stored_as, self.fields):
            col = field.get_col(self.name)
            # What SQLCompiler.get_converters() applies to a column in a query.
            converters = source.ops.get_db_converters(col) + col.get_db_converters(source)
            # get_db_prep_save() turns None into SQL NULL; a JSON null that is
            # not SQL NULL is kept by get_db_prep_value() (SQL NULL never
            # reaches it: NULL is copied as NULL before any converter).
            prepare = field.get_db_prep_value if isinstance(field, models.JSONField) else field.get_db_prep_save
            self.columns.append((converters, col, prepare))

    def count(self, connection) -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(self.name)}")
            return cursor.fetchone()[0]

    def has_rows(self, connection) -> bool:
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {qn(self.name)} {connection.ops.limit_offset_sql(0, 1)}")
            return cursor.fetchone() is not None

    def chunks(self):
        """The source's rows, CHUNK at a time in primary key order, ready for the target."""
        source = self.source
        qn = source.ops.quote_name
        pk = qn(self.fields[self.pk_index].column)
        select = f"SELECT {', '.join(qn(f.column) for f in self.fields)} FROM {qn(self.name)}"
        tail = f" ORDER BY {pk} {source.ops.limit_offset_sql(0, CHUNK)}"
        last = None
        while True:
            with source.cursor() as cursor:
                if last is None:
                    cursor.execute(select + tail)
                else:
                    cursor.execute(f"{select} WHERE {pk} > %s{tail}", [last])
                rows = cursor.fetchall()
            if not rows:
                return
            last = rows[-1][self.pk_index]
            yield [self.prepare(row) for row in rows]
            if len(rows) < CHUNK:
                return

    def prepare(self, row) -> tuple:
        out = []
        source, target = self.source, self.target
        for value, (converters, col, prepare) in zip(row, self.columns):
            if value is not None:
                for converter in converters:
                    value = converter(value, col, source)
                value = prepare(value, target)
            out.append(value)
        return tuple(out)

    def write(self) -> int:
        target = self.target
        qn = target.ops.quote_name
        columns = ", ".join(qn(f.column) for f in self.fields)
        written = 0
        with target.cursor() as cursor:
            if target.vendor == "postgresql" and USE_COPY_ON_POSTGRESQL:
                with cursor.copy(f"COPY {qn(self.name)} ({columns}) FROM STDIN") as copy:
                    for rows in self.chunks():
                        for row in rows:
                            copy.write_row(row)
                        written += len(rows)
            else:
                insert = f"INSERT INTO {qn(self.name)} ({columns}) VALUES ({', '.join(['%s'] * len(self.fields))})"
                for rows in self.chunks():
                    cursor.executemany(insert, rows)
                    written += len(rows)
        return written


def database_cache_tables() -> set[str]:
    return {
        config["LOCATION"] for config in settings.CACHES.values()
        if config["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    }


def applied_migrations(connection) -> set[tuple[str, str]] | None:
    if "django_migrations" not in connection.introspection.table_names():
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations")
        return set(cursor.fetchall())


def same_database(source, source_path, target) -> bool:
    """Whether source and target are one database, however differently they are named."""
    if source.vendor != target.vendor:
        return False
    if source.vendor == "sqlite":
        name = str(target.settings_dict["NAME"])
        return os.path.isfile(name) and os.path.samefile(source_path, name)
    if source.vendor == "postgresql":
        # Host names, ports and sockets may differ for one server: ask the
        # server instead. An advisory lock taken in the target's transaction
        # is refused to the source only if it is the same database (advisory
        # locks are per database). A random key: no other holder.
        key = secrets.randbits(62)
        with target.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
        with source.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
            return not cursor.fetchone()[0]
    one, other = source.settings_dict, target.settings_dict
    return all(str(one.get(k) or "") == str(other.get(k) or "") for k in ("HOST", "PORT", "NAME"))


def listed(names, limit=8) -> str:
    names = sorted(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


class Command(BaseCommand):
    help = (
        "Copy every row of every table of the tidsnok database at --from URL into the configured database "
        "(DATABASE_URL), which must be migrated by the same release and empty. One transaction: everything "
        "or nothing. Primary keys and stored values (encrypted content, the audit chain) are kept as they "
        "are. Skipped: logins in progress (django_session; everyone logs in again, see --sessions) and the "
        "database cache (tidsnok_cache; rebuilt by itself). Stop the application on both databases first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="source_url", required=True, metavar="URL",
                            help="The database to copy from, as a DATABASE_URL (e.g. sqlite:////var/lib/tidsnok/"
                                 "tidsnok.sqlite3). Only read: SQLite is opened read-only.")
        parser.add_argument("--sessions", action="store_true",
                            help="Also copy the sessions, so that whoever was logged in stays logged in. Off by "
                                 "default, which is the safer choice: the sessions of the old installation end "
                                 "with it.")

    def out(self, line: str = ""):
        # Flushed at once: a long copy is followed through a log file.
        self.stdout.write(line)
        self.stdout.flush()

    def handle(self, *args, source_url, sessions, **options):
        target = connections[DEFAULT_DB_ALIAS]
        started, cpu = time.perf_counter(), time.process_time()
        try:
            with source_database(source_url) as (source, source_path):
                self.out(f"Copying {describe(source, source_path)} (read only) into {describe(target)}")
                with transaction.atomic(using=SOURCE_ALIAS), transaction.atomic(using=target.alias):
                    self.copy(source, source_path, target, sessions)
                    # The source was only read: nothing to commit there.
                    transaction.set_rollback(True, using=SOURCE_ALIAS)
        finally:
            # Content type ids have changed (or were put back on failure): this process must not keep old ones.
            ContentType.objects.clear_cache()
        # The database cache is not copied, but the application cannot start without its table.
        call_command("createcachetable", database=target.alias, verbosity=0)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        self.out(self.style.SUCCESS(f"Copied and committed in {elapsed:.1f} s ({cpu:.1f} s CPU in this process)."))
        self.out("Next: `tidsnok audit verify` on the new database.")

    def copy(self, source, source_path, target, sessions: bool):
        if source.vendor == "postgresql":
            # One consistent state of the source across every table.
            with source.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        if same_database(source, source_path, target):
            raise Refused("The source is the target database itself: nothing to copy.")
        self.check_migrations(source, target)
        tables, skipped = self.tables(source, target, sessions)
        if target.vendor == "postgresql":
            # Nobody else writes to them until the copy is committed (reads go on).
            with target.cursor() as cursor:
                cursor.execute("LOCK TABLE " + ", ".join(target.ops.quote_name(t.name) for t in tables)
                               + " IN EXCLUSIVE MODE")
        self.check_target_empty(tables, target, sessions)

        expected = {t.name: t.count(source) for t in tables}
        self.out(f"  {len(tables)} tables, {sum(expected.values()):,} rows; skipped: {'; '.join(skipped)}")
        with target.cursor() as cursor:
            for label in MADE_BY_MIGRATE:
                cursor.execute(f"DELETE FROM {target.ops.quote_name(apps.get_model(label)._meta.db_table)}")

        # Foreign keys: Django creates them DEFERRABLE INITIALLY DEFERRED on
        # PostgreSQL and on SQLite, so inside this one transaction the order of
        # the tables does not matter; on backends without deferrable keys
        # (MySQL) constraint_checks_disabled() turns the checks off for this
        # connection. Either way check_constraints() checks every copied table
        # before the commit. Chosen over copying in dependency order because no
        # order of tables satisfies a table that refers to itself (units in a
        # tree) or two tables that refer to each other.
        with target.constraint_checks_disabled():
            for table in tables:
                began = time.perf_counter()
                try:
                    written = table.write()
                except DatabaseError as exc:
                    raise CommandError(f"Copying {table.name} failed, nothing was written: {exc}") from exc
                self.out(f"  {table.name:<45} {written:>10,} rows {time.perf_counter() - began:8.1f} s")
        began = time.perf_counter()
        try:
            target.check_constraints(table_names=[t.name for t in tables])
        except IntegrityError as exc:
            raise CommandError(f"A copied row refers to a row that does not exist, nothing was written: {exc}") from exc
        self.out(f"  foreign keys checked in {time.perf_counter() - began:.1f} s")

        self.compare(tables, expected, target)
        # Last, as sequences are not transactional on PostgreSQL: a rollback
        # after this point would leave them advanced (harmless, but not nothing).
        with target.cursor() as cursor:
            for sql in target.ops.sequence_reset_sql(no_style(), [t.model for t in tables]):
                cursor.execute(sql)

    def check_migrations(self, source, target):
        theirs, ours = applied_migrations(source), applied_migrations(target)
        if theirs is None:
            raise Refused("The source is not a tidsnok database: it has no django_migrations table.")
        if ours is None:
            raise Refused("The target is not migrated: run `tidsnok migrate` on it first.")
        executor = MigrationExecutor(target)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            raise Refused(f"The target has {len(pending)} unapplied migration{'s' if len(pending) != 1 else ''}: "
                          "run `tidsnok migrate` on it first.")
        if theirs != ours:
            only_source = [f"{app}.{name}" for app, name in theirs - ours]
            only_target = [f"{app}.{name}" for app, name in ours - theirs]
            lines = ["The source and the target have not applied the same migrations."]
            if only_source:
                lines.append(f"Only in the source: {listed(only_source)}.")
            if only_target:
                lines.append(f"Only in the target: {listed(only_target)}.")
            lines.append("Migrate the source with this release first (DATABASE_URL=<source> tidsnok migrate), or copy "
                         "with the release the source was last migrated with.")
            raise Refused(" ".join(lines))
        self.out(f"  {len(ours)} migrations applied on both sides")

    def tables(self, source, target, sessions: bool) -> tuple[list[Table], list[str]]:
        """Every table to copy, and what is skipped and why. Refuses a source
        with tables that tidsnok does not know: they would be lost silently."""
        tables, known = [], {"django_migrations"}
        skipped = []
        for model in apps.get_models(include_auto_created=True):  # not swapped-out models (auth.User)
            opts = model._meta
            if opts.proxy or not opts.managed or opts.db_table in known:
                continue
            known.add(opts.db_table)
            if opts.label_lower == SESSIONS and not sessions:
                skipped.append(f"{opts.db_table} (logins in progress: --sessions copies them)")
                continue
            tables.append(Table(model, source, target))
        cache_tables = database_cache_tables()
        skipped += [f"{name} (the database cache, rebuilt by itself)" for name in sorted(cache_tables)]
        in_source = set(source.introspection.table_names())
        unknown = {name for name in in_source - known - cache_tables if not name.startswith("sqlite_")}
        if unknown:
            raise Refused(f"The source has tables this release of tidsnok does not know ({listed(unknown)}); "
                          "they would not be copied.")
        missing = {t.name for t in tables} - in_source
        if missing:
            raise Refused(f"The source lacks tables of this release ({listed(missing)}).")
        return tables, skipped

    def check_target_empty(self, tables: list[Table], target, sessions: bool):
        made_by_migrate = {apps.get_model(label)._meta.db_table for label in MADE_BY_MIGRATE}
        checked = [t for t in tables if t.name not in made_by_migrate]
        if not sessions:  # not copied, but a target with logins in progress is not a fresh one
            checked.append(Table(apps.get_model(SESSIONS), target, target))
        busy = [t.name for t in checked if t.has_rows(target)]
        if busy:
            raise Refused(f"The target holds data already ({listed(busy)}). copydb only fills a database that is "
                          "freshly migrated and empty: create a new one, `tidsnok migrate`, then copy.")
        self.out("  the target is empty (but for the content types and permissions of `migrate`, replaced)")

    def compare(self, tables: list[Table], expected: dict[str, int], target):
        self.out(f"  {'table':<45} {'source':>10} {'target':>10}")
        found = {t.name: t.count(target) for t in tables}
        wrong = [name for name in found if found[name] != expected[name]]
        for name in found:
            mark = "  <- differs" if name in wrong else ""
            self.out(f"  {name:<45} {expected[name]:>10,} {found[name]:>10,}{mark}")
        self.out(f"  {'total':<45} {sum(expected.values()):>10,} {sum(found.values()):>10,}")
        if wrong:
            raise CommandError(f"The row counts differ ({listed(wrong)}): rolled back, nothing was written.")
