"""Every difference between SQLite and PostgreSQL lives here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url

from andon.errors import ConfigError, MissingExtra

READ_ONLY_OPTION = "andon_read_only"
CONTROL_CHANNEL = "andon_control"  # PostgreSQL NOTIFY channel of control changes (payload: the epoch)

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # NORMAL is durable across process crashes in WAL mode; only a power loss can drop the last commits.
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
)


def normalise_url(raw: str | URL) -> URL:
    """Parse a database URL and pin the driver we support for its dialect."""
    try:
        url = make_url(raw)
    except Exception as exc:  # sqlalchemy raises ArgumentError with an unhelpful text
        raise ConfigError(
            f"ANDON_DATABASE_URL {str(raw)!r} is not a database URL; "
            "use sqlite:///path/andon.db or postgresql://user@host:5432/db"
        ) from exc
    backend = url.get_backend_name()
    if backend == "postgresql":
        if url.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
            url = url.set(drivername="postgresql+psycopg")
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise MissingExtra(module="psycopg", extra="postgres", purpose="A PostgreSQL store") from exc
    elif backend != "sqlite":
        raise ConfigError(f"database {backend!r} is not supported; use SQLite or PostgreSQL")
    return url


def engine_options(url: URL, *, schema: str | None) -> dict[str, Any]:
    """Keyword arguments for ``sqlalchemy.create_engine`` suited to the dialect."""
    # hide_parameters: a failed statement's message (and so any log line or traceback quoting it)
    # never carries its values, e.g. a tool's unmasked arguments on their way into control_actions.
    if url.get_backend_name() == "sqlite":
        # We issue BEGIN ourselves (see install_sqlite_hooks) so writers take the lock up front.
        # The pool keeps as many connections as the server has request threads (AnyIO's 40): a
        # connection returned to a full pool is closed, and opening one (pragmas, WAL index) costs
        # more than the queries most requests make.
        sqlite: dict[str, Any] = {
            "connect_args": {"check_same_thread": False, "timeout": 30},
            "hide_parameters": True,
        }
        if url.database not in (None, "", ":memory:"):  # an in-memory store has one connection per thread
            sqlite.update(pool_size=48, max_overflow=16)
        return sqlite
    options: dict[str, Any] = {
        "pool_pre_ping": True,
        "pool_size": 10,
        "max_overflow": 20,
        "hide_parameters": True,
    }
    if schema:
        options["connect_args"] = {"options": f"-csearch_path={schema}"}
    return options


def install_sqlite_hooks(engine: Engine) -> None:
    """WAL pragmas on connect; BEGIN IMMEDIATE so concurrent writers queue instead of deadlocking."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let us emit BEGIN ourselves
        cursor = dbapi_conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Readers (see andon.store.reading) start deferred so they never queue behind a writer in WAL.
        # Straight to the driver: every transaction passes here, and going through exec_driver_sql
        # (events, result set-up) cost more than the BEGIN itself.
        raw = conn.connection.driver_connection
        raw.execute("BEGIN" if conn.get_execution_options().get(READ_ONLY_OPTION) else "BEGIN IMMEDIATE")


def cap_lock_waits(engine: Engine, seconds: float) -> None:
    """Make connections opened from now on wait at most ``seconds`` for a lock another writer holds.

    SQLite: ``PRAGMA busy_timeout``; PostgreSQL: ``SET lock_timeout``, committed so that it outlives
    the implicit transaction the driver opened for it. Connections already pooled keep their wait.
    """
    millis = max(1, int(seconds * 1000))
    sqlite = is_sqlite(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        if sqlite:
            cursor.execute(f"PRAGMA busy_timeout={millis}")
        else:
            cursor.execute(f"SET lock_timeout = {millis}")
        cursor.close()
        if not sqlite:
            dbapi_conn.commit()


def is_sqlite(engine_or_url: Engine | URL) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else engine_or_url
    return url.get_backend_name() == "sqlite"


def advisory_xact_lock(conn: Any, key: int) -> None:
    """Hold a lock named by ``key`` until the transaction ends.

    PostgreSQL: ``pg_advisory_xact_lock``. SQLite needs nothing: every transaction there begins
    with BEGIN IMMEDIATE, which already admits one writer at a time.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (key,))


def notify(conn: Any, channel: str, payload: str) -> None:
    """Tell listeners on ``channel`` when this transaction commits (PostgreSQL NOTIFY; SQLite: nothing,
    its readers poll)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_notify(%s, %s)", (channel, payload))


def bulk_insert(conn: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert many rows fast, bypassing per-row SQLAlchemy processing: values go to the driver as given.

    PostgreSQL: COPY FROM STDIN (text format, so each value is parsed by its column's type: an
    RFC 3339 string is a valid timestamptz). SQLite: one prepared executemany. Callers pass values
    already in their stored form (for UTCDateTime columns, the string that type stores on SQLite).
    """
    if not rows:
        return
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(rows))


def driver_sql(conn: Any, sql: str) -> str:
    """``sql`` written with ``?`` placeholders, in the paramstyle of the connection's driver."""
    return sql.replace("?", "%s") if conn.dialect.name == "postgresql" else sql


def locking(conn: Any, select_sql: str) -> str:
    """``select_sql`` locking the rows it reads until the transaction ends (PostgreSQL: FOR UPDATE).

    SQLite has no row locks; every writer there already holds the one write lock (BEGIN IMMEDIATE).
    """
    return select_sql + " FOR UPDATE" if conn.dialect.name == "postgresql" else select_sql


def fetch_rows(conn: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run a read with ``?`` placeholders on the driver's own cursor and return plain tuples.

    For scans of millions of rows, where building SQLAlchemy Row objects would cost as much as
    the database read. Binary columns come back as ``bytes`` on both drivers.
    """
    raw = conn.connection.dbapi_connection
    sql = driver_sql(conn, sql)
    # PostgreSQL: a binary cursor, so bytea arrives as raw bytes, not hex text to decode.
    cursor = raw.cursor(binary=True) if conn.dialect.name == "postgresql" else raw.cursor()
    try:
        cursor.execute(sql, tuple(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()
