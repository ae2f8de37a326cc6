"""Cached access to the analytics layer, shared by every worker through one disk cache.

Datasets are addressed by id (the bundled data has a fixed id; uploads get random ones). Each
dataset is cleaned once into ``CACHE_DIR/datasets/<fingerprint>.parquet``; every derived result
is memoised in ``CACHE_DIR/results`` under ``(function, fingerprint, parameters)``, so a second
visit, or a second worker, never recomputes. This module imports no dash: background jobs run it
in fresh processes (see :mod:`dashboard.jobs`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
from threadpoolctl import threadpool_limits

from analytics.basket_analysis import BasketParams, scoped_baskets
from analytics.cleaning import CleaningReport
from analytics.customer_table import (
    CustomerTable,
    joined_features,
    load_customer_table,
    table_features,
)
from analytics.customers import CustomerHistory, customer_history, search_customers
from analytics.datasets import BUNDLED_ID, BUNDLED_NAME, fingerprint, open_dataset
from analytics.errors import DataError, ParameterError, SchemaError
from analytics.features import FEATURES, customer_features, numeric_feature_names
from analytics.io import CSV_SUFFIXES, EXCEL_SUFFIXES, PARQUET_SUFFIXES, read_columns
from analytics.kpis import Overview, period_overview, rfm_at_end
from analytics.postgres import PostgresSource
from analytics.segment_report import SegmentParams, SegmentReport, segment_report
from analytics.segmentation import KSweep, attribute_names, sweep_k
from dashboard.cache import ResultCache
from dashboard.settings import Settings

if TYPE_CHECKING:  # the heavy modules are imported where they are used: a job that only
    # mines baskets need not load LightGBM (each job starts a fresh interpreter)
    from analytics.baskets import Baskets, Rules
    from analytics.explain import Explanation, SegmentSurrogate
    from analytics.predict import Predictions

log = logging.getLogger(__name__)
UPLOAD_ID = re.compile(r"^u-[0-9a-f]{32}$")
ROOT = Path(__file__).resolve().parent.parent


def upload_suffix(filename: str) -> str:
    """The normalised extension of an uploaded file (``.csv``, ``.csv.gz``, ``.xlsx``, ``.parquet``).

    Raises DataError for any other kind of file.
    """
    name = (filename or "").lower()
    gz = name.endswith(".gz")
    stem = name[:-3] if gz else name
    suffix = Path(stem).suffix
    if suffix in CSV_SUFFIXES:
        return suffix + (".gz" if gz else "")
    if not gz and suffix in EXCEL_SUFFIXES | PARQUET_SUFFIXES:
        return suffix
    raise DataError(
        f"{filename or 'The file'}: unsupported file type. Upload a CSV (.csv, .csv.gz, .txt), "
        "Excel (.xlsx) or Parquet (.parquet) file."
    )


def stored_name(filename: str, suffix: str) -> str:
    """The upload's own name, reduced to safe characters, so messages name the user's file.

    Only letters, digits, ``-``, ``_`` and ``.`` are kept (no path separator can survive) and
    the normalised ``suffix`` is forced, so the name never collides with ``meta.json``.
    """
    name = Path(filename.replace("\\", "/").rsplit("/", 1)[-1]).name
    stem = name[: -len(suffix)] if name.lower().endswith(suffix) else Path(name).stem
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", stem).strip(".")[:80] or "upload"
    return stem + suffix


class UploadTooLarge(DataError):
    """An upload is over the server's size limit."""


#: Upload kinds that hold a customer table (see :meth:`Service.configure_table`).
TABLE_KINDS = ("customers", "joined")


class NeedsTransactions(SchemaError):
    """A view that needs dated purchases was asked of a customer table."""

    def __init__(self, label: str) -> None:
        super().__init__(
            f"This view needs a transaction log (customer, date and amount per purchase); the "
            f"active dataset, {label}, is a customer table (one row per customer, no dates). "
            "Segment it on the Segments page, or load a log on the Data page."
        )


def _write_private(path: Path, value: dict) -> None:
    """Write JSON atomically to a file only this account can read (0600)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(value))
    os.replace(tmp, path)


def code_version() -> str:
    """A hash of the analytics code and this module: results cached by older code are not reused."""
    digest = hashlib.sha256()
    for path in sorted([*(ROOT / "analytics").glob("*.py"), Path(__file__).resolve()]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class DatasetSource:
    """Where a dataset's file is and how to read it."""

    id: str
    label: str
    path: Path
    columns: dict[str, str] = field(default_factory=dict)
    date_format: str | None = None
    #: "transactions" (a log), "customers" (a customer table alone) or "joined" (a log, ``path``,
    #: with a customer table, ``table``, joined to it by customer id)
    kind: str = "transactions"
    table: Path | None = None
    id_column: str | None = None
    log_id: str | None = None


#: Kept for the pages and jobs that name it: a segmentation is a :class:`SegmentReport`.
SegmentationResult = SegmentReport


class Service:
    """Memoised analytics for the app; one per process, all sharing ``settings.cache_dir``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.results = ResultCache(settings)
        self.cache = self.results.disk  # the disk cache itself (reports, jobs' own keys)
        self.version = code_version()
        self._last_log: tuple[Path, pl.DataFrame] | None = None
        self._last_invoices: tuple[str, pl.DataFrame] | None = None

    # -- datasets ---------------------------------------------------------------------------
    def source(self, dataset_id: str) -> DatasetSource:
        """The file behind a dataset id; ids are checked before any path is built from them."""
        if dataset_id == BUNDLED_ID:
            return DatasetSource(
                BUNDLED_ID,
                "UCI Online Retail 2009-2011 (bundled)",
                self.settings.data_dir / BUNDLED_NAME,
            )
        if isinstance(dataset_id, str) and UPLOAD_ID.match(dataset_id):
            meta = self.upload_dir(dataset_id) / "meta.json"
            if meta.exists():
                info = json.loads(meta.read_text())
                if not info.get("ready"):
                    raise DataError(
                        "This upload has no column mapping yet: choose the columns and press Load."
                    )
                if info.get("kind") in TABLE_KINDS:
                    return self._table_source(dataset_id, meta.parent, info)
                return DatasetSource(
                    dataset_id,
                    info["label"],
                    meta.parent / info["file"],
                    info.get("columns") or {},
                    info.get("date_format"),
                )
        raise DataError(
            f"Dataset {dataset_id!r} is not available (it may have been removed). "
            "Reload the page to return to the default dataset."
        )

    def upload_dir(self, dataset_id: str) -> Path:
        """Folder of an upload; only ids we generated (``u-`` + 32 hex digits) are accepted."""
        if not (isinstance(dataset_id, str) and UPLOAD_ID.match(dataset_id)):
            raise DataError(f"Dataset {dataset_id!r} is not an upload of this app.")
        return self.settings.cache_dir / "uploads" / dataset_id

    def save_upload(self, content: bytes, filename: str) -> tuple[str, list[str]]:
        """Store an uploaded file under a new random id; return the id and the file's columns.

        The file is kept byte for byte, privately (see :meth:`store_upload`); its name is only a
        label. An upload whose header cannot be read is deleted.
        """
        dataset_id = self.store_upload(io.BytesIO(content), filename, "", len(content))
        try:
            return dataset_id, self.upload_columns(dataset_id)
        except BaseException:
            self.discard_upload(dataset_id)
            raise

    # -- uploads from the web: streamed, bounded, private, owned (dashboard/uploads.py) -----
    def store_upload(self, stream, filename: str, owner: str, max_bytes: int) -> str:
        """Copy an upload ``stream`` to a new private folder in 1 MB chunks; return its id.

        The folder is 0700 and the file 0600; the owner is recorded. A stream longer than
        ``max_bytes`` raises :class:`UploadTooLarge` and leaves nothing behind.
        """
        suffix = upload_suffix(filename)
        dataset_id = f"u-{uuid.uuid4().hex}"
        folder = self.upload_dir(dataset_id)
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700)
        path = folder / stored_name(filename, suffix)
        size = 0
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                while chunk := stream.read(2**20):
                    size += len(chunk)
                    if size > max_bytes:
                        raise UploadTooLarge(
                            f"{filename} is larger than this app's upload limit of "
                            f"{max_bytes / 2**20:,.0f} MB. Upload a smaller file (for example "
                            "a shorter date range), or compress it as .csv.gz."
                        )
                    handle.write(chunk)
            if size == 0:
                raise DataError(f"{filename} is empty: choose a file with a header and rows.")
            _write_private(
                folder / "meta.json",
                {"label": filename, "file": path.name, "ready": False, "owner": owner},
            )
        except BaseException:
            self.discard_upload(dataset_id)
            raise
        return dataset_id

    def upload_columns(self, dataset_id: str) -> list[str]:
        """The column names in an upload's header (cheap: the rows are read by the load job)."""
        folder = self.upload_dir(dataset_id)
        meta = json.loads((folder / "meta.json").read_text())
        return read_columns(folder / meta["file"])

    def upload_owner(self, dataset_id: str) -> str | None:
        """Who uploaded ``dataset_id`` ("" for an upload of unknown owner); None if no such upload."""
        try:
            meta = self.upload_dir(dataset_id) / "meta.json"
        except DataError:
            return None
        if not meta.exists():
            return None
        return json.loads(meta.read_text()).get("owner") or ""

    def discard_upload(self, dataset_id: str | None) -> None:
        """Delete an upload's folder (a refused or failed upload leaves nothing behind)."""
        if dataset_id is None:
            return
        shutil.rmtree(self.upload_dir(dataset_id), ignore_errors=True)

    def configure_upload(
        self, dataset_id: str, columns: dict[str, str], date_format: str | None
    ) -> None:
        """Record the column mapping and date format chosen for an upload (it is then loadable)."""
        meta_path = self.upload_dir(dataset_id) / "meta.json"
        meta = json.loads(meta_path.read_text())
        meta.update({"columns": columns, "date_format": date_format or None, "ready": True})
        _write_private(meta_path, meta)

    # -- PostgreSQL sources (issue 13): a table or query read once into a private upload ------
    def store_postgres(self, source: PostgresSource, owner: str) -> dict:
        """Read ``source`` (read-only, in batches) into a new upload owned by ``owner``.

        The rows are kept as Parquet in the upload's private folder, exactly as an uploaded
        file, and go through the same column mapping, cleaning and ownership; the password
        is used for this read only and is stored nowhere (the folder's ``meta.json`` holds the
        masked URL). A result over ``settings.pg_max_rows`` rows or ``pg_max_mb`` MB is refused
        while it is read, naming the limit, and leaves nothing behind.

        Returns ``{"dataset_id", "filename", "columns"}``, as the upload route does.
        """
        from analytics.postgres import read_table

        frame = read_table(
            source,
            max_rows=self.settings.pg_max_rows,
            max_bytes=self.settings.pg_max_mb * 2**20,
        )
        if frame.height == 0:
            raise DataError(f"The {source.label} returned no rows: nothing to analyse.")
        dataset_id = f"u-{uuid.uuid4().hex}"
        folder = self.upload_dir(dataset_id)
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700)
        try:
            path = folder / stored_name(source.table or "query", ".parquet")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                frame.write_parquet(handle)
            _write_private(
                folder / "meta.json",
                {"label": source.label, "file": path.name, "ready": False, "owner": owner},
            )
        except BaseException:
            self.discard_upload(dataset_id)
            raise
        return {"dataset_id": dataset_id, "filename": source.label, "columns": frame.columns}

    def fingerprint(self, dataset_id: str) -> str:
        """The cache key of a dataset's log (a log joined to a table shares its log's)."""
        source = self.source(dataset_id)
        if source.kind == "joined":
            return self.fingerprint(source.log_id)
        if source.kind == "customers":
            raise NeedsTransactions(source.label)
        stat = source.path.stat()
        key = (
            "fingerprint",
            str(source.path),
            stat.st_mtime_ns,
            stat.st_size,
            source.columns,
            source.date_format,
        )
        digest = self._memo(
            json.dumps(key), lambda: fingerprint(source.path, source.columns, source.date_format)
        )
        return f"{digest}-{self.version}"

    def transactions(self, dataset_id: str) -> pl.DataFrame:
        """The cleaned log, cleaned once per dataset and kept as Parquet.

        The last log this process read stays in memory (one at a time: logs can be large).
        """
        path = self._clean_path(dataset_id)
        last = self._last_log
        if last is None or last[0] != path:
            # a Spark-cleaned log is a directory of part files (beside Hadoop's .crc files)
            last = self._last_log = (
                path,
                pl.read_parquet(path / "*.parquet" if path.is_dir() else path),
            )
        return last[1]

    def report(self, dataset_id: str) -> CleaningReport:
        self._clean_path(dataset_id)
        return self.cache.get(f"report:{self.fingerprint(dataset_id)}")

    def _clean_path(self, dataset_id: str) -> Path:
        fp = self.fingerprint(dataset_id)
        dataset_id = self.source(dataset_id).log_id or dataset_id  # a joined table: its log
        path = self.settings.cache_dir / "datasets" / f"{fp}.parquet"
        if path.exists() and f"report:{fp}" in self.cache:
            return path
        # One cleaner at a time across threads and workers; the others wait and reuse its file.
        with self.results.lock(f"clean:{fp}", expire=600):
            if not path.exists() or f"report:{fp}" not in self.cache:
                source = self.source(dataset_id)
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
                report = None
                if self._cleans_on_spark(source):
                    try:
                        report = self._clean_on_spark(source, tmp)
                    except DataError as error:  # e.g. dates stored as text: clean it here
                        log.info("Cleaning %s on this host: %s", source.label, error)
                        shutil.rmtree(tmp, ignore_errors=True)
                if report is None:
                    dataset = open_dataset(
                        source.path, source.columns, date_format=source.date_format
                    )
                    dataset.transactions.write_parquet(tmp)
                    report = dataset.report
                if path.is_dir():  # Spark's directory (its report since lost): not replaceable
                    shutil.rmtree(path)
                elif path.exists() and tmp.is_dir():
                    path.unlink()
                os.replace(tmp, path)
                self.cache.set(f"report:{fp}", report)
        return path

    # -- the Spark engine (SEGMENTA_ENGINE=spark) --------------------------------------------
    def _cleans_on_spark(self, source: DatasetSource) -> bool:
        """Whether the Spark engine cleans this log: a Parquet log (with typed dates).

        CSV and Excel uploads (at most ``SEGMENTA_MAX_UPLOAD_MB``) are read and cleaned on this
        host, as the Spark engine reads typed Parquet only; their features and itemsets are
        still computed on Spark.
        """
        return (
            self.settings.engine == "spark"
            and source.path.suffix.lower() in PARQUET_SUFFIXES
            and not source.date_format
        )

    def _spark(self):
        """This process's Spark session (its JVM is started on first use)."""
        from analytics.engines import spark

        return spark.spark_session(self.settings.spark_master or None)

    def _clean_on_spark(self, source: DatasetSource, out: Path) -> CleaningReport:
        """Read and clean ``source`` on Spark; the executors write the cleaned log to ``out``
        (a Parquet directory, read as one file by polars and Spark alike)."""
        from analytics.engines import spark

        dataset = spark.open_dataset(source.path, source.columns, spark=self._spark())
        dataset.transactions.write.mode("overwrite").parquet(str(out))
        return dataset.report

    def _spark_log(self, dataset_id: str):
        """The cleaned log as a (lazy) Spark frame."""
        return self._spark().read.parquet(str(self._clean_path(dataset_id)))

    def date_range(self, dataset_id: str) -> tuple[dt.date, dt.date]:
        """First and last transaction dates."""

        def compute():
            dates = self.transactions(dataset_id).get_column("invoice_date")
            return dates.min().date(), dates.max().date()

        return self._memo(f"date_range:{self.fingerprint(dataset_id)}", compute)

    # -- customer analytics -----------------------------------------------------------------
    def features(self, dataset_id: str, as_of: dt.datetime | None = None) -> pl.DataFrame:
        key = f"features:{self.fingerprint(dataset_id)}:{as_of}"
        if self.settings.engine == "spark":
            from analytics.engines import spark

            return self._memo(
                key, lambda: spark.customer_features(self._spark_log(dataset_id), as_of)
            )
        return self._memo(key, lambda: customer_features(self.transactions(dataset_id), as_of))

    def segmentation(self, dataset_id: str, params: SegmentParams) -> SegmentReport:
        """The segmentation report (fit, profile, personas, PCA, tree) of one set of settings."""
        key = f"segmentation:{self.segment_fingerprint(dataset_id)}:{params.key()}"

        def compute() -> SegmentReport:
            # In a web request: one thread each. OpenMP teams from concurrent requests on a
            # small machine spin against each other (K-Means took 6 s instead of 0.6 s here).
            with threadpool_limits(limits=self.settings.request_threads):
                return segment_report(
                    self.segment_features(dataset_id), params, self.attributes(dataset_id)
                )

        return self._memo(key, compute)

    def sweep(
        self,
        dataset_id: str,
        params: SegmentParams,
        k_values: tuple[int, ...] = tuple(range(2, 11)),
        progress: Callable[[int, int], None] | None = None,
    ) -> KSweep:
        return self._memo(
            self._sweep_key(dataset_id, params, k_values),
            lambda: sweep_k(
                self.segment_features(dataset_id),
                k_values,
                feature_names=list(params.features) if params.features else None,
                scaling=params.scaling,
                algorithm=params.algorithm,
                progress=progress,
            ),
        )

    def cached_sweep(
        self, dataset_id: str, params: SegmentParams, k_values=tuple(range(2, 11))
    ) -> KSweep | None:
        return self.results.get(self._sweep_key(dataset_id, params, k_values))

    def _sweep_key(self, dataset_id: str, params: SegmentParams, k_values: tuple[int, ...]) -> str:
        # k and the density parameters do not change a sweep, so they are not in its key
        sweep_params = (params.features, params.scaling, params.algorithm, k_values)
        return f"sweep:{self.segment_fingerprint(dataset_id)}:{json.dumps(sweep_params)}"

    # -- churn, CLV and explanations ---------------------------------------------------------
    def predictions(
        self,
        dataset_id: str,
        horizon_days: int = 90,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> Predictions:
        """Backtest, train and score (long: run it in a job); cached per dataset and horizon."""
        from analytics.predict import predict

        return self._memo(
            self._predictions_key(dataset_id, horizon_days),
            lambda: predict(
                self.transactions(dataset_id), horizon_days=horizon_days, progress=progress
            ),
        )

    def cached_predictions(self, dataset_id: str, horizon_days: int = 90) -> Predictions | None:
        return self.results.get(self._predictions_key(dataset_id, horizon_days))

    def _predictions_key(self, dataset_id: str, horizon_days: int) -> str:
        return f"predictions:{self.fingerprint(dataset_id)}:{horizon_days}"

    def surrogate(self, dataset_id: str, params: SegmentParams) -> SegmentSurrogate:
        key = f"surrogate:{self.segment_fingerprint(dataset_id)}:{params.key()}"

        def compute() -> SegmentSurrogate:
            from analytics.explain import SegmentSurrogate

            result = self.segmentation(dataset_id, params)
            return SegmentSurrogate().fit(
                self.segment_features(dataset_id),
                result.assignments["segment"].to_numpy(),
                result.features,
            )

        return self._memo(key, compute)

    def explanation(
        self,
        dataset_id: str,
        customer_id: str,
        target: str,
        horizon_days: int = 90,
        params: SegmentParams | None = None,
    ) -> Explanation:
        """LIME explanation of one customer's churn, CLV or segment; cached per customer."""
        currency = self.settings.currency
        if target == "segment":
            params = params or SegmentParams()
            key = f"explain:{self.fingerprint(dataset_id)}:segment:{params.key()}:{customer_id}"

            def compute() -> Explanation:
                result = self.segmentation(dataset_id, params)
                row = result.assignments.filter(pl.col("customer_id") == customer_id)
                if row.height == 0:
                    raise DataError(
                        f"Customer {customer_id!r} has no segment ("
                        + (
                            "not in the joined customer table)."
                            if self.kind(dataset_id) == "joined"
                            else "no purchase in the data)."
                        )
                    )
                # what the surrogate learnt from: with a joined table, the table's columns too
                customer = self.segment_features(dataset_id).filter(
                    pl.col("customer_id") == customer_id
                )
                return self.surrogate(dataset_id, params).explain(
                    customer, int(row["segment"][0]), row["segment_name"][0], currency=currency
                )

            return self._memo(key, compute)
        key = f"explain:{self.fingerprint(dataset_id)}:{target}:{horizon_days}:{customer_id}"

        def compute() -> Explanation:
            result = self.predictions(dataset_id, horizon_days)
            if result.models is None:
                raise DataError(
                    "These predictions come from BG/NBD + Gamma-Gamma (the history is too short for "
                    "LightGBM), which has no per-feature explanation."
                )
            customer = result.scoring.filter(pl.col("customer_id") == customer_id)
            if customer.height == 0:
                raise DataError(f"No customer with id {customer_id!r} was scored.")
            from analytics.explain import explain_prediction

            return explain_prediction(result.models, customer, target, currency=currency)

        return self._memo(key, compute)

    def customer(self, dataset_id: str, customer_id: str) -> CustomerHistory:
        key = f"customer:{self.fingerprint(dataset_id)}:{customer_id}"
        return self._memo(key, lambda: customer_history(self.transactions(dataset_id), customer_id))

    def customer_options(
        self, dataset_id: str, search: str | None, value: str | None
    ) -> list[dict]:
        """Dropdown options: ids matching ``search``, the chosen ``value`` kept first."""
        ids = self.find_customers(dataset_id, search)
        if value and value not in ids:
            ids = [value, *ids]
        return [{"label": i, "value": i} for i in ids]

    def find_customers(self, dataset_id: str, text: str | None, limit: int = 20) -> list[str]:
        ids = self._memo(
            f"customer_ids:{self.fingerprint(dataset_id)}",
            lambda: self.features(dataset_id).get_column("customer_id").to_list(),
        )
        return search_customers(ids, text, limit)

    # -- market baskets ----------------------------------------------------------------------
    def baskets(self, dataset_id: str, params: BasketParams) -> Baskets:
        """The baskets a basket analysis reads (all, one country's or one segment's); cached."""
        filters = params.basket_filters()
        key = (
            f"baskets:{self.fingerprint(dataset_id)}:{params.scope}:{params.scope_value}:"
            f"{json.dumps(params.segmentation, sort_keys=True)}:{json.dumps(filters, default=str, sort_keys=True)}"
        )

        return self._memo(
            key,
            lambda: scoped_baskets(
                self.transactions(dataset_id), params, self._scope_members(dataset_id, params)
            ),
        )

    def _scope_members(self, dataset_id: str, params: BasketParams) -> pl.Series | None:
        """The customers of the segment a basket analysis is scoped to (None: no segment)."""
        if params.scope != "segment":
            return None
        segmentation = self.segmentation(
            dataset_id, SegmentParams.from_dict(params.segmentation or {})
        )
        return segmentation.assignments.filter(
            pl.col("segment") == int(params.scope_value)
        ).get_column("customer_id")

    def _mine_on_spark(
        self,
        dataset_id: str,
        params: BasketParams,
        progress: Callable[[int, int, str], None] | None,
    ) -> Rules:
        """The itemsets of ``params`` mined by Spark MLlib's FP-Growth on the cleaned log."""
        from analytics.engines import spark

        if params.algorithm != "fpgrowth":
            raise ParameterError(
                "This server mines on Spark (SEGMENTA_ENGINE=spark), whose FP-Growth is its only "
                "miner (Spark MLlib has no Apriori). Choose FP-Growth: it finds the same itemsets.",
                parameter="algorithm",
            )
        if progress is not None:
            progress(0, 1, "Counting baskets and mining itemsets on Spark")
        baskets = scoped_baskets(
            self._spark_log(dataset_id),
            params,
            self._scope_members(dataset_id, params),
            build=spark.baskets_from_transactions,
        )
        return spark.mine_rules(baskets, params.min_support, params.min_confidence, params.min_lift)

    def rules(
        self,
        dataset_id: str,
        params: BasketParams,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> Rules:
        """Frequent itemsets and rules (long at low support: run it in a job); cached.

        Itemsets do not depend on confidence or lift: once a support (with its scope and
        filters) has been mined, rules at any other confidence or lift are derived from the
        stored itemsets instead of mining again.
        """
        from analytics.baskets import mine_rules, rederive_rules

        def compute() -> Rules:
            mined = self.results.get(self._itemsets_key(dataset_id, params))
            if mined is not None:
                return rederive_rules(mined, params.min_confidence, params.min_lift)
            if self.settings.engine == "spark":
                mined = self._mine_on_spark(dataset_id, params, progress)
            else:
                mined = mine_rules(
                    self.baskets(dataset_id, params),
                    params.min_support,
                    params.min_confidence,
                    params.min_lift,
                    algorithm=params.algorithm,
                    progress=progress,
                )
            self.results.disk.set(self._itemsets_key(dataset_id, params), mined)
            return mined

        return self._memo(self._rules_key(dataset_id, params), compute)

    def cached_rules(self, dataset_id: str, params: BasketParams) -> Rules | None:
        return self.results.get(self._rules_key(dataset_id, params))

    def quick_rules(self, dataset_id: str, params: BasketParams) -> Rules | None:
        """The rules when they need no mining (cached, or derived from mined itemsets); else None.

        Deriving rules from the 1,342 itemsets of the bundled data at 1% support takes a few
        hundredths of a second, so the page shows them at once instead of starting a job.
        """
        cached = self.cached_rules(dataset_id, params)
        if cached is not None:
            return cached
        if self.results.get(self._itemsets_key(dataset_id, params)) is None:
            return None
        return self.rules(dataset_id, params)

    def _rules_key(self, dataset_id: str, params: BasketParams) -> str:
        return f"rules:{self.fingerprint(dataset_id)}:{params.key()}"

    def _itemsets_key(self, dataset_id: str, params: BasketParams) -> str:
        """The key of the mined itemsets: every parameter but confidence and lift."""
        mining = {**params.to_dict(), "min_confidence": None, "min_lift": None}
        return f"itemsets:{self.fingerprint(dataset_id)}:{json.dumps(mining, sort_keys=True)}"

    def countries(self, dataset_id: str) -> list[str]:
        def compute() -> list[str]:
            tx = self.transactions(dataset_id).filter(pl.col("country").is_not_null())
            return (
                tx.group_by("country")
                .agg(n=pl.col("invoice_id").n_unique())
                .sort(["n", "country"], descending=[True, False])["country"]
                .to_list()
            )

        return self._memo(f"countries:{self.fingerprint(dataset_id)}", compute)

    def cross_sell(self, dataset_id: str, params: BasketParams, customer_id: str) -> pl.DataFrame:
        """Products to offer one customer next, from the rules of ``params``."""
        from analytics.baskets import cross_sell, product_labels

        rules = self.rules(dataset_id, params)
        tx = self.transactions(dataset_id).filter(
            (pl.col("customer_id") == customer_id) & ~pl.col("is_return")
        )
        if tx.height == 0:
            raise DataError(f"No purchases for customer {customer_id!r} in this dataset.")
        bought = (
            tx.join(product_labels(tx), on="product_id", how="inner")
            .get_column("item")
            .unique()
            .to_list()
        )
        return cross_sell(rules, bought)

    # -- executive overview -----------------------------------------------------------------
    def overview(self, dataset_id: str, start: dt.date, end: dt.date) -> Overview:
        key = f"overview:{self.fingerprint(dataset_id)}:{start}:{end}"

        def compute() -> Overview:
            # the RFM scores depend on the end only: a new start date reuses them
            rfm = self._memo(
                f"rfm_at_end:{self.fingerprint(dataset_id)}:{end}",
                lambda: rfm_at_end(self.transactions(dataset_id), end),
            )
            return period_overview(self.invoices(dataset_id), start, end, rfm)

        return self._memo(key, compute)

    def invoices(self, dataset_id: str) -> pl.DataFrame:
        """The log summed per invoice (:func:`analytics.kpis.invoice_table`): a period's numbers
        from 5% of the rows. The last one this process read stays in memory."""
        from analytics.kpis import invoice_table

        key = f"invoices:{self.fingerprint(dataset_id)}"
        last = self._last_invoices
        if last is None or last[0] != key:
            table = self._memo(key, lambda: invoice_table(self.transactions(dataset_id)))
            last = self._last_invoices = (key, table)
        return last[1]

    # -- lifecycle: cohorts, migration, alive, anomalies (issue 10) -------------------------
    def cohorts(self, dataset_id: str, period: str = "month") -> pl.DataFrame:
        """The cohort triangle (:func:`analytics.cohorts.cohort_retention`)."""
        from analytics.cohorts import cohort_retention

        key = f"cohorts:{self.fingerprint(dataset_id)}:{period}"
        return self._memo(key, lambda: cohort_retention(self.transactions(dataset_id), period))

    def migration_dates(self, dataset_id: str) -> tuple[dt.date, dt.date]:
        """Default dates of a migration: the last quarter end and today (as-of days)."""
        from analytics.migration import default_dates

        def compute():
            start, end = default_dates(self.transactions(dataset_id))
            return start.date(), end.date()

        return self._memo(f"migration_dates:{self.fingerprint(dataset_id)}", compute)

    def migration(
        self,
        dataset_id: str,
        start: dt.date,
        end: dt.date,
        by: str = "rfm",
        params: SegmentParams | None = None,
    ):
        """Segments at two dates (:func:`analytics.migration.migrate`); slow for ``by="segment"``
        (a clustering and a cross-validated classifier): run it in a job first."""
        return self._memo(
            self._migration_key(dataset_id, start, end, by, params),
            lambda: self._migrate(dataset_id, start, end, by, params),
        )

    def cached_migration(self, dataset_id, start, end, by="rfm", params=None):
        return self.results.get(self._migration_key(dataset_id, start, end, by, params))

    def _migration_key(self, dataset_id, start, end, by, params) -> str:
        seg = (params or SegmentParams()).key() if by == "segment" else ""
        return f"migration:{self.fingerprint(dataset_id)}:{start}:{end}:{by}:{seg}"

    @staticmethod
    def _segmentation_kwargs(params: SegmentParams | None) -> dict:
        params = params or SegmentParams()
        return {
            "features": list(params.features) if params.features else None,
            "scaling": params.scaling,
            "algorithm": params.algorithm,
            "n_clusters": params.k,
            "eps": params.eps,
            "min_samples": params.min_samples,
            "min_cluster_size": params.min_cluster_size,
        }

    def _migrate(self, dataset_id, start, end, by, params):
        from analytics.migration import migrate

        return migrate(
            self.transactions(dataset_id),
            start,
            end,
            by,
            segmentation=self._segmentation_kwargs(params) if by == "segment" else None,
        )

    def segment_sizes(
        self, dataset_id: str, by: str = "rfm", params: SegmentParams | None = None
    ) -> pl.DataFrame:
        """Customers per segment at the first of each of the last 12 months and today."""
        from analytics.migration import monthly_snapshots, segment_sizes

        return self._memo(
            self._sizes_key(dataset_id, by, params),
            lambda: segment_sizes(
                self.transactions(dataset_id),
                monthly_snapshots(self.transactions(dataset_id)),
                by,
                segmentation=self._segmentation_kwargs(params) if by == "segment" else None,
            ),
        )

    def cached_segment_sizes(self, dataset_id, by="rfm", params=None):
        return self.results.get(self._sizes_key(dataset_id, by, params))

    def _sizes_key(self, dataset_id, by, params) -> str:
        seg = (params or SegmentParams()).key() if by == "segment" else ""
        return f"segment_sizes:{self.fingerprint(dataset_id)}:{by}:{seg}"

    def alive(self, dataset_id: str):
        """BG/NBD P(alive), next-order date and churn band per customer, as of the data's end."""
        from analytics.alive import alive_table

        key = f"alive:{self.fingerprint(dataset_id)}"

        def compute():
            # in a web request: one BLAS/OpenMP thread, as every in-request computation
            with threadpool_limits(limits=self.settings.request_threads):
                return alive_table(self.transactions(dataset_id))

        return self._memo(key, compute)

    def p_alive_history(self, dataset_id: str, customer_id: str) -> pl.DataFrame:
        from analytics.alive import p_alive_history

        key = f"alive_history:{self.fingerprint(dataset_id)}:{customer_id}"
        return self._memo(
            key,
            lambda: p_alive_history(
                self.transactions(dataset_id), customer_id, self.alive(dataset_id)
            ),
        )

    def anomalies(self, dataset_id: str) -> pl.DataFrame:
        """Unusual customers with reasons (:func:`analytics.anomalies.find_anomalies`)."""
        from analytics.anomalies import find_anomalies

        key = f"anomalies:{self.fingerprint(dataset_id)}"
        return self._memo(
            key,
            lambda: find_anomalies(self.transactions(dataset_id), currency=self.settings.currency),
        )

    # -- executive report (issue 11): the pages' own cached results, assembled ------------------
    def executive_report(
        self,
        dataset_id: str,
        start: dt.date | None,
        end: dt.date | None,
        progress: Callable[[int, int, str], None] | None = None,
    ):
        """The period's :class:`analytics.report.Report`, from the same cached calls as the pages.

        Long on a cold cache (it trains the churn and CLV models): run it in a job.
        """
        from analytics import report as rp

        sources = rp.ReportSources(
            overview=lambda a, b: self.overview(dataset_id, a, b),
            segmentation=lambda: self.segmentation(dataset_id, SegmentParams()),
            predictions=lambda: self.predictions(dataset_id, rp.HORIZON_DAYS),
            cohorts=lambda: self.cohorts(dataset_id, "month"),
            migration=lambda a, b: self.migration(dataset_id, a, b, "rfm"),
            rules=lambda params: self.rules(dataset_id, params),
        )
        first, last = self.date_range(dataset_id)
        return rp.compose_report(
            sources,
            first,
            last,
            start,
            end,
            dataset=self.source(dataset_id).label,
            currency=self.settings.currency,
            progress=progress,
        )

    # -- REST API (issue 11): the pages' cached results, one row per customer -----------------
    def api_customers(
        self, dataset_id: str, params: SegmentParams, horizon_days: int = 90
    ) -> tuple[pl.DataFrame, dict]:
        """Every customer's segment, persona, RFM segment, churn band, churn probability, CLV,
        quadrant and action, from the same cached calls the pages make; and what is missing.

        Nothing is trained here: churn and CLV come from :meth:`cached_predictions` and are null
        until the Churn & CLV page (or ``python -m analytics predict``) has trained the models.
        The second value says so (``{"predictions": bool, "rules": bool}``).
        """
        predictions = self.cached_predictions(dataset_id, horizon_days)
        key = (
            f"api_customers:{self.fingerprint(dataset_id)}:{params.key()}:{horizon_days}:"
            f"{predictions is not None}"
        )

        def compute() -> pl.DataFrame:
            from analytics.rfm import RFM_SEGMENTS, rfm_table

            features = self.features(dataset_id)
            segmentation = self.segmentation(dataset_id, params)
            personas = pl.DataFrame(
                [
                    {"segment": p.segment, "persona": p.description, "persona_action": p.action}
                    for p in segmentation.profile.personas
                ],
                schema={"segment": pl.Int64, "persona": pl.String, "persona_action": pl.String},
            )
            rfm = rfm_table(features).select(
                "customer_id",
                "rfm_segment",
                "rfm_score",
                rfm_action=pl.col("rfm_segment").replace_strict(
                    {name: seg.action for name, seg in RFM_SEGMENTS.items()},
                    return_dtype=pl.String,
                    default=None,
                ),
            )
            alive = self.alive(dataset_id).table.select("customer_id", "p_alive", "churn_band")
            table = (
                segmentation.assignments.select(
                    "customer_id", pl.col("segment").cast(pl.Int64), "segment_name"
                )
                .join(personas, on="segment", how="left")
                .join(rfm, on="customer_id", how="left")
                .join(alive, on="customer_id", how="left")
            )
            scored = ("churn_probability", "predicted_clv", "clv_low", "clv_high", "quadrant")
            if predictions is not None:
                table = table.join(
                    predictions.table.select("customer_id", *scored, "action"),
                    on="customer_id",
                    how="left",
                )
            else:
                table = table.with_columns(
                    [pl.lit(None, pl.Float64).alias(c) for c in scored[:-1]]
                    + [
                        pl.lit(None, pl.String).alias("quadrant"),
                        pl.lit(None, pl.String).alias("action"),
                    ]
                )
            return table.sort("customer_id")

        table = self._memo(key, compute)
        return table, {"predictions": predictions is not None}

    def api_bought(self, dataset_id: str) -> dict[str, list[str]]:
        """The product labels (as basket rules name them) each customer has bought."""
        from analytics.baskets import product_labels

        def compute() -> dict[str, list[str]]:
            tx = self.transactions(dataset_id).filter(
                pl.col("customer_id").is_not_null() & ~pl.col("is_return")
            )
            bought = (
                tx.join(product_labels(self.transactions(dataset_id)), on="product_id")
                .group_by("customer_id")
                .agg(pl.col("item").unique())
            )
            return dict(bought.iter_rows())

        return self._memo(f"api_bought:{self.fingerprint(dataset_id)}", compute)

    def api_labels(self, dataset_id: str) -> dict[str, str]:
        """``product_id -> item``: the labels basket rules use for this dataset's products."""
        from analytics.baskets import product_labels

        return self._memo(
            f"api_labels:{self.fingerprint(dataset_id)}",
            lambda: dict(product_labels(self.transactions(dataset_id)).iter_rows()),
        )

    def api_btyd(self, dataset_id: str, horizon_days: int = 90):
        """BG/NBD + Gamma-Gamma fitted at the cached predictions' cutoff (what ``predict`` fits
        for its model inputs), to build the same inputs for posted customers; None before the
        predictions are trained."""
        from analytics.btyd import btyd_forecast

        predictions = self.cached_predictions(dataset_id, horizon_days)
        if predictions is None:
            return None
        key = f"api_btyd:{self.fingerprint(dataset_id)}:{horizon_days}:{predictions.cutoff}"
        return self._memo(
            key,
            lambda: btyd_forecast(self.transactions(dataset_id), predictions.cutoff, horizon_days),
        )

    def api_cross_sell(
        self, dataset_id: str, items: list[str], top: int = 5
    ) -> pl.DataFrame | None:
        """Products to offer a customer who bought ``items``, from the Baskets page's default
        rules; None when those rules are not mined yet (nothing is mined here)."""
        from analytics.baskets import cross_sell

        rules = self.quick_rules(dataset_id, BasketParams())
        return None if rules is None else cross_sell(rules, items, top=top)

    def api_score(
        self,
        dataset_id: str,
        params: SegmentParams,
        transactions: pl.DataFrame,
        as_of: dt.datetime | None,
        horizon_days: int = 90,
    ) -> dict:
        """Score one outside customer's canonical ``transactions`` with the dataset's cached
        results (:func:`analytics.scoring.score_customer`); nothing is stored or trained.

        ``as_of`` defaults to the later of the dataset's scoring date (the predictions' cutoff,
        else the data's end) and midnight after the customer's last transaction.

        Returns ``{"row", "note", "items", "as_of", "rows", "predictions"}``.

        Raises
        ------
        DataError
            Cleaning leaves no purchase.
        """
        from analytics.cleaning import clean_transactions
        from analytics.scoring import bought_items, score_customer

        # cleaning refuses transactions with no purchase left, naming why
        tx, _ = clean_transactions(transactions, source="the posted transactions")
        alive = self.alive(dataset_id)
        predictions = self.cached_predictions(dataset_id, horizon_days)
        if as_of is None:
            last = tx.get_column("invoice_date").max()
            after_last = dt.datetime.combine(last.date() + dt.timedelta(days=1), dt.time())
            as_of = max(predictions.cutoff if predictions else alive.as_of, after_last)
        row, note = score_customer(
            tx,
            as_of,
            reference=self.features(dataset_id),
            segmentation=self.segmentation(dataset_id, params),
            alive=alive,
            predictions=predictions,
            forecast=self.api_btyd(dataset_id, horizon_days),
            horizon_days=horizon_days,
        )
        return {
            "row": row,
            "note": note,
            "items": bought_items(tx, self.api_labels(dataset_id)),
            "as_of": as_of,
            "rows": tx.height,
            "predictions": predictions is not None,
        }

    # -- customer tables (issue 10): a table alone, or joined to a log ------------------------
    def _table_source(self, dataset_id: str, folder: Path, info: dict) -> DatasetSource:
        table = folder / info["file"]
        if info["kind"] == "customers":
            return DatasetSource(
                dataset_id, info["label"], table, kind="customers", id_column=info["id_column"]
            )
        log = self.source(info["log_id"])
        return dataclasses.replace(
            log,
            id=dataset_id,
            label=f"{log.label} + {info['label']}",
            kind="joined",
            table=table,
            id_column=info["id_column"],
            log_id=log.id,
        )

    def kind(self, dataset_id: str) -> str:
        """``transactions``, ``customers`` (a table alone) or ``joined`` (a log and a table)."""
        return self.source(dataset_id).kind

    def configure_table(
        self, dataset_id: str, id_column: str | None, log_id: str | None = None
    ) -> None:
        """Record that an upload is a customer table (alone, or joined to the log ``log_id``)
        and its id column (None: recognised by name); it is then loadable."""
        if log_id is not None:
            source = self.source(log_id)
            if source.kind != "transactions":
                raise DataError(
                    "A customer table joins to a transaction log, and the active dataset is "
                    f"{source.label}. Load a log first (or use the bundled data), then the table."
                )
        meta_path = self.upload_dir(dataset_id) / "meta.json"
        meta = json.loads(meta_path.read_text())
        meta.update(
            {
                "kind": "joined" if log_id else "customers",
                "id_column": id_column or None,
                "log_id": log_id,
                "ready": True,
            }
        )
        _write_private(meta_path, meta)

    def _table_fingerprint(self, source: DatasetSource) -> str:
        path = source.table if source.kind == "joined" else source.path
        stat = path.stat()
        key = ("table", str(path), stat.st_mtime_ns, stat.st_size, source.id_column)
        digest = self._memo(
            json.dumps(key), lambda: fingerprint(path, {"id": source.id_column or ""}, None)
        )
        return f"{digest}-{self.version}"

    def customer_table(self, dataset_id: str) -> CustomerTable | None:
        """The dataset's customer table, read and encoded once (None for a log alone).

        Raises SchemaError / DataError with the reader's message for a file that is not one.
        """
        source = self.source(dataset_id)
        if source.kind == "transactions":
            return None
        path = source.table if source.kind == "joined" else source.path
        return self._memo(
            f"customer_table:{self._table_fingerprint(source)}",
            lambda: load_customer_table(path, source.id_column),
        )

    def attributes(self, dataset_id: str) -> CustomerTable | None:
        """The customer table whose columns segmentations of ``dataset_id`` see (None: none)."""
        return self.customer_table(dataset_id)

    def segment_fingerprint(self, dataset_id: str) -> str:
        """The cache key of what a segmentation sees: the log, the table or both."""
        source = self.source(dataset_id)
        if source.kind == "customers":
            return f"table:{self._table_fingerprint(source)}"
        if source.kind == "joined":
            return f"{self.fingerprint(dataset_id)}+{self._table_fingerprint(source)}"
        return self.fingerprint(dataset_id)

    def segment_features(self, dataset_id: str) -> pl.DataFrame:
        """What the Segments page clusters on: the log's features, the table's columns
        (numeric and one-hot), or the log's features joined to the table's columns for the
        customers the table describes."""
        source = self.source(dataset_id)
        if source.kind == "transactions":
            return self.features(dataset_id)
        if source.kind == "customers":
            return self._memo(
                f"table_features:{self.segment_fingerprint(dataset_id)}",
                lambda: table_features(self.customer_table(dataset_id)),
            )
        return self._memo(
            f"joined_features:{self.segment_fingerprint(dataset_id)}",
            lambda: joined_features(self.features(dataset_id), self.customer_table(dataset_id)),
        )

    def feature_choices(self, dataset_id: str) -> dict[str, str]:
        """``name -> label`` of every column the Segments page can cluster on for a dataset:
        behavioural features, the table's columns (numeric, one-hot), or both."""
        frame = self.segment_features(dataset_id)
        choices = {name: FEATURES[name] for name in numeric_feature_names(frame)}
        return choices | {name: name for name in attribute_names(frame)}

    # -- plumbing ---------------------------------------------------------------------------
    def _memo(self, key: str, compute: Callable[[], object]):
        """The cached value of ``key``, computed once across threads, workers and jobs."""
        return self.results.memo(key, compute)
