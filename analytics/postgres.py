"""Reading a transaction log from PostgreSQL, read-only, in batches.

A source is a ``postgresql://user@host:port/db`` URL with either one table (quoted as an
identifier, ``schema.table`` allowed) or one read query (``SELECT``, ``WITH ... SELECT``,
``VALUES`` or ``TABLE``). What we never do is write: three independent guards stand between a
query and the user's data:

1. the connection opens with ``default_transaction_read_only=on`` and every transaction is
   started ``READ ONLY`` (psycopg's ``read_only``), so PostgreSQL itself refuses any write;
2. the query is run as a server-side cursor (``DECLARE ... CURSOR FOR <query>``), which
   PostgreSQL accepts only for one read statement (no ``DELETE``, no data-modifying ``WITH``,
   no second statement);
3. a query whose first word is not a read is refused before anything is sent.

The rows are fetched ``batch_size`` at a time from the server-side cursor (the server never
sends the whole result at once) and checked against the row and memory ceilings as they
arrive, so a table that is too big is refused as soon as it passes a ceiling.

The password comes from ``SEGMENTA_PG_PASSWORD``, libpq's ``PGPASSWORD`` or ``~/.pgpass``
(or, in the web app, typed once into the form). A URL holding a password is refused, and no
message, label or log line ever contains one: :func:`mask_url` drops it, and every message
built from a server error is scrubbed of the password before it is raised.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import polars as pl

from analytics.errors import DataError, ParameterError, fix
from analytics.io import PEAK_BYTES_PER_ROW, LoadedLog, check_memory, loaded_log

URL_SCHEMES = ("postgresql", "postgres")
PASSWORD_ENV = "SEGMENTA_PG_PASSWORD"
#: Rows fetched from the server-side cursor per round trip. ``benchmarks/bench_postgres.py`` on
#: the bundled 1.04M-row log (a busy 2-core machine): 10k, 50k and 200k rows a batch took the
#: same time within the noise; peak memory grew with the batch (356, 364, 473 MB).
BATCH_ROWS = 50_000
CONNECT_TIMEOUT_S = 10
_READ_WORDS = ("select", "with", "values", "table")
_LEADING_NOISE = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*", re.S)
# PostgreSQL type OIDs read natively; everything else (uuid, json, ...) is read as its text.
_INT_OIDS = {20, 21, 23, 26}
_FLOAT_OIDS = {700, 701, 1700}  # numeric is loaded as float (amounts are floats downstream)
_TEXT_OIDS = {18, 19, 25, 1042, 1043}


def is_postgres_url(text: object) -> bool:
    """Whether ``text`` is a ``postgresql://`` (or ``postgres://``) URL rather than a file path."""
    return (
        isinstance(text, str) and text.split("://", 1)[0].lower() in URL_SCHEMES and ("://" in text)
    )


def mask_url(url: str) -> str:
    """The URL without any password (``postgresql://user@host:port/db``), safe to print."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)
        host = netloc[-1]
        user = netloc[0].split(":", 1)[0] if len(netloc) == 2 else ""
    except ValueError:
        return "postgresql://(unreadable URL)"
    auth = f"{user}@" if user else ""
    return f"{parts.scheme}://{auth}{host}{parts.path}"


@dataclass(frozen=True)
class PostgresSource:
    """One table or one read query in a PostgreSQL database.

    Parameters
    ----------
    url
        ``postgresql://user@host:port/db`` (libpq URL options such as ``?sslmode=require`` are
        kept). It must not hold a password.
    table, query
        Exactly one of them: a table name (``orders`` or ``sales.orders``) or one read query.
    password
        Typed by a user of the web app; None reads ``SEGMENTA_PG_PASSWORD``, then libpq's own
        ``PGPASSWORD`` / ``~/.pgpass``. Never shown by ``repr`` or in any message.
    """

    url: str
    table: str | None = None
    query: str | None = None
    password: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not is_postgres_url(self.url):
            raise ParameterError(
                f"{mask_url(self.url)} is not a PostgreSQL URL: write it as "
                "postgresql://user@host:port/database.",
                "input",
            )
        parts = urlsplit(self.url)
        in_query = "password" in {k.lower() for k in parse_qs(parts.query)}
        if in_query or (":" in parts.netloc.rsplit("@", 1)[0] and "@" in parts.netloc):
            raise ParameterError(
                f"{mask_url(self.url)}: do not put the password in the URL (command lines and "
                "logs show it). Set SEGMENTA_PG_PASSWORD or PGPASSWORD, or use ~/.pgpass.",
                "input",
            )
        table = (self.table or "").strip() or None
        query = (self.query or "").strip() or None
        if (table is None) == (query is None):
            raise ParameterError(
                f"Reading from {mask_url(self.url)} needs exactly one of --table NAME or "
                '--query "select ...". Got ' + ("both." if table else "neither."),
                "table",
            )
        if query is not None:
            query = query.rstrip().rstrip(";").rstrip()
            check_read_query(query)
        if table is not None:
            _table_parts(table)
        object.__setattr__(self, "table", table)
        object.__setattr__(self, "query", query)

    @property
    def label(self) -> str:
        """What messages and reports call this source (never with a password)."""
        if self.table:
            return f"table {self.table} in {mask_url(self.url)}"
        return f"query on {mask_url(self.url)}"

    def sql(self):
        """The statement to run: the query as given, or ``SELECT * FROM`` the quoted table."""
        from psycopg import sql

        if self.table:
            return sql.SQL("SELECT * FROM {}").format(sql.Identifier(*_table_parts(self.table)))
        return sql.SQL(self.query)  # one read statement, checked in __post_init__


def _table_parts(table: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in table.split("."))
    if len(parts) > 2 or not all(parts):
        raise ParameterError(
            f"{fix('--table', 'The table')} {table!r} is not a table name: give NAME or "
            "SCHEMA.NAME (e.g. orders or sales.orders), or "
            + fix('use --query "select ..."', "write a query")
            + " for anything else.",
            "table",
        )
    return parts


def check_read_query(query: str) -> None:
    """Refuse a query that is not one read statement, before it is sent anywhere.

    This is the first of three guards (see the module docstring); PostgreSQL enforces the other
    two, so a write slipping past this check would still be refused by the server.
    """
    rest = _LEADING_NOISE.sub("", query, count=1)
    first = re.match(r"[A-Za-z_]+", rest)
    word = first.group(0).lower() if first else rest[:20]
    if word not in _READ_WORDS:
        raise ParameterError(
            f"{fix('--query', 'The query')} must be one read query (SELECT, WITH ... SELECT, "
            f"VALUES or TABLE); it starts with {word!r}. Segmenta only ever reads your "
            "database: nothing was sent.",
            "query",
        )


def _password(source: PostgresSource) -> str | None:
    if source.password:
        return source.password
    return os.environ.get(PASSWORD_ENV) or None  # else libpq: PGPASSWORD, ~/.pgpass


def _scrub(text: str, password: str | None) -> str:
    return text.replace(password, "***") if password else text


def connect(source: PostgresSource):
    """A read-only psycopg connection: ``default_transaction_read_only=on`` and READ ONLY."""
    import psycopg

    password = _password(source)
    kwargs = {"password": password} if password else {}
    try:
        conn = psycopg.connect(
            source.url,
            options="-c default_transaction_read_only=on",
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name="segmenta (read-only)",
            autocommit=False,
            **kwargs,
        )
    except psycopg.Error as error:
        raise DataError(_connect_message(source, error, password)) from None
    conn.read_only = True  # every transaction psycopg opens is BEGIN READ ONLY
    from psycopg.types.numeric import FloatLoader

    conn.adapters.register_loader("numeric", FloatLoader)
    return conn


def _connect_message(source: PostgresSource, error, password: str | None) -> str:
    """What went wrong connecting, in the user's terms; the server's words only when unknown.

    ``from None`` at the raise: the chained libpq error is not kept (it could hold connection
    details), the message says all there is.
    """
    text = _scrub(str(error), password)
    where = mask_url(source.url)
    low = text.lower()
    if "password authentication failed" in low or "no password supplied" in low:
        return (
            f"PostgreSQL refused the password for {where}. Check the user name and the password "
            "(SEGMENTA_PG_PASSWORD or PGPASSWORD, ~/.pgpass, or the form's password field)."
        )
    if "could not translate host name" in low or "name or service not known" in low:
        return f"Unknown host in {where}: no such server name. Check the host name."
    if "connection refused" in low or "timeout expired" in low or "could not connect" in low:
        return (
            f"Nothing answers at {where}: no PostgreSQL server is listening at that host and "
            "port, or a firewall blocks it. Check the host and port."
        )
    if "does not exist" in low and "database" in low:
        return f"{where}: no such database on that server. Check the database name."
    if "role" in low and "does not exist" in low:
        return f"{where}: no such user on that server. Check the user name."
    first = text.strip().splitlines()[-1] if text.strip() else type(error).__name__
    return f"Cannot connect to {where}: {first}"


def _query_message(source: PostgresSource, error, password: str | None) -> str:
    import psycopg.errors as pge

    text = _scrub(str(error).strip().splitlines()[0] if str(error).strip() else "", password)
    if isinstance(error, pge.UndefinedTable):
        what = f"No table named {source.table!r}" if source.table else "The query names a table"
        return (
            f"{what} in {mask_url(source.url)} ({text}). Check the name (and its schema, e.g. "
            "sales.orders) and that this user may read it."
        )
    if isinstance(error, pge.InsufficientPrivilege):
        return f"The user in {mask_url(source.url)} may not read this: {text}."
    if (
        isinstance(error, pge.ReadOnlySqlTransaction)
        or "multiple commands" in text
        or ("data-modifying" in text)
    ):
        return (
            "The query is not one read statement, and Segmenta only ever reads your database: "
            f"PostgreSQL refused it ({text}). Give one SELECT."
        )
    if isinstance(error, pge.SyntaxError):
        return f"The query is not valid SQL for one read statement: {text}. Give one SELECT."
    return f"PostgreSQL could not run the {source.label}: {text}."


def _polars_type(oid: int) -> pl.DataType | None:
    if oid in _INT_OIDS:
        return pl.Int64
    if oid in _FLOAT_OIDS:
        return pl.Float64
    if oid in _TEXT_OIDS:
        return pl.String
    if oid == 16:
        return pl.Boolean
    if oid == 1082:
        return pl.Date
    if oid == 1114:
        return pl.Datetime("us")
    if oid == 1184:
        return pl.Datetime("us", "UTC")
    return None  # read as text


def _batch_frame(names: list[str], types: list, rows: list[tuple]) -> pl.DataFrame:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    series = []
    for name, dtype, values in zip(names, types, columns, strict=True):
        if dtype is None:
            values = [None if v is None else str(v) for v in values]
            dtype = pl.String
        series.append(pl.Series(name, values, dtype=dtype, strict=False))
    return pl.DataFrame(series)


def read_table(
    source: PostgresSource,
    *,
    batch_size: int = BATCH_ROWS,
    max_rows: int | None = None,
    max_bytes: int | None = None,
) -> pl.DataFrame:
    """Read the source's rows as they are, ``batch_size`` rows per round trip, read-only.

    Parameters
    ----------
    max_rows, max_bytes
        Ceilings on the result (rows, and bytes of the frame in memory); the source is refused
        as soon as it passes one. Whatever they are, a result needing more memory to load,
        clean and describe than this machine has free is refused as a file would be
        (:func:`analytics.io.check_memory`).

    Raises
    ------
    DataError
        Connection refused, unknown table, a query that is not one read, a ceiling passed.
    """
    import psutil
    import psycopg

    available = psutil.virtual_memory().available
    password = _password(source)
    frames: list[pl.DataFrame] = []
    rows_read = 0
    size = 0
    with connect(source) as conn:
        try:
            with conn.cursor(name="segmenta_read") as cursor:
                cursor.itersize = batch_size
                cursor.execute(source.sql())
                names = [c.name for c in cursor.description]
                _check_names(names, source)
                types = [_polars_type(c.type_code) for c in cursor.description]
                while rows := cursor.fetchmany(batch_size):
                    frame = _batch_frame(names, types, rows)
                    rows_read += frame.height
                    size += frame.estimated_size()
                    _check_ceilings(source, rows_read, size, max_rows, max_bytes)
                    if rows_read * PEAK_BYTES_PER_ROW > available:
                        check_memory(rows_read, f"The {source.label}", available)
                    frames.append(frame)
                if not frames:
                    frames.append(_batch_frame(names, types, []))
        except psycopg.Error as error:
            raise DataError(_query_message(source, error, password)) from None
        finally:
            # nothing to commit (the transaction was read-only); a broken connection cannot
            # roll back, and its error must not hide the one being raised
            with contextlib.suppress(psycopg.Error):
                conn.rollback()
    return pl.concat(frames, rechunk=True)


def _check_names(names: list[str], source: PostgresSource) -> None:
    from analytics.schema import check_unique_headers

    check_unique_headers(names, where=source.label)


def _check_ceilings(
    source: PostgresSource,
    rows: int,
    size: int,
    max_rows: int | None,
    max_bytes: int | None,
) -> None:
    if max_rows is not None and rows > max_rows:
        raise DataError(
            f"The {source.label} has more than {max_rows:,} rows, this app's limit for one "
            "dataset. Read fewer rows (e.g. a query with a date range: "
            "select ... where invoice_date >= '2024-01-01'), or ask the administrator to raise "
            "the limit."
        )
    if max_bytes is not None and size > max_bytes:
        raise DataError(
            f"The {source.label} takes more than {max_bytes / 2**20:,.0f} MB of memory, this "
            "app's limit for one dataset. Read fewer rows or columns (a query selecting only "
            "the columns you need, or a shorter date range), or ask the administrator to raise "
            "the limit."
        )


def load_postgres(
    source: PostgresSource,
    columns: dict[str, str] | None = None,
    *,
    date_format: str | None = None,
    **limits,
) -> LoadedLog:
    """Read ``source`` and map it onto the canonical schema, exactly as a file is mapped.

    ``limits`` are :func:`read_table`'s ``batch_size``, ``max_rows`` and ``max_bytes``.
    """
    return loaded_log(
        read_table(source, **limits),
        source.label,
        columns,
        date_format=date_format,
        empty=f"The {source.label} returned no rows.",
    )
