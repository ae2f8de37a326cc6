"""Configuration from environment variables, read once into one typed object."""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from analytics.datasets import BUNDLED_ID, data_dir

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from its environment.

    ============================  ===============================================================
    ``SEGMENTA_DATA_DIR``         folder of the bundled data (default: the repository's ``data/``)
    ``SEGMENTA_CACHE_DIR``        one absolute folder shared by all workers (default ``./var``)
    ``SEGMENTA_DEFAULT_DATASET``  dataset id shown first (default: the bundled data)
    ``SEGMENTA_LOG_LEVEL``        DEBUG, INFO, WARNING or ERROR (default INFO)
    ``SEGMENTA_SECRET_KEY``       signs sessions and job handles; default: a random key created
                                  once in the cache folder, so every worker shares it
    ``SEGMENTA_CURRENCY``         currency symbol for money figures (default £, the bundled data's)
    ``SEGMENTA_MEMORY_CACHE``     results each worker keeps unpickled in memory (default 64)
    ``SEGMENTA_LOCK_TIMEOUT``     seconds a computation may hold its result's lock before another
                                  may take over (default 120: a killed worker never blocks long)
    ``SEGMENTA_REQUEST_THREADS``  BLAS/OpenMP threads for work done inside a web request
                                  (default 1: concurrent requests share the cores)
    ``SEGMENTA_WARM_UP``          ``1`` (default): compute the default views of the default dataset
                                  when the server starts; ``0``: only when first asked
    ``SEGMENTA_MAX_UPLOAD_MB``    largest upload body accepted, in MB (default 300); larger
                                  requests are refused (413) before they are read
    ``SEGMENTA_JOB_TIMEOUT_S``    wall-clock ceiling of one background job, seconds (default 900)
    ``SEGMENTA_JOB_MEMORY_MB``    address-space ceiling of one job process, MB (default 6144)
    ``SEGMENTA_JOB_ABANDON_S``    a job whose page has not polled for this long is stopped
                                  (the browser was closed), seconds (default 120)
    ``SEGMENTA_API_DATASET``      the dataset the REST API serves (default: the bundled data);
                                  never an upload: uploads belong to browser sessions
    ``SEGMENTA_API_MAX_BODY_KB``  largest ``POST /api/v1/score`` body, KB (default 1024)
    ``SEGMENTA_API_MAX_ROWS``     most transactions in one ``POST /api/v1/score`` (default 5000)
    ``SEGMENTA_API_RATE``         requests per minute per API key (default 120), refilled evenly
    ``SEGMENTA_API_BURST``        requests a key may make at once before the rate applies
                                  (default 20)
    ``SEGMENTA_AUTH_HEADER``      trust this request header (e.g. ``X-Remote-User``) as the
                                  signed-in user's name, set by a reverse proxy doing single
                                  sign-on; unset (default): logins are the app's own
    ``SEGMENTA_AUTH_ROLE_HEADER`` with ``SEGMENTA_AUTH_HEADER``: the header carrying the user's
                                  role (viewer, analyst or admin); unset: the role stored with
                                  ``python -m dashboard users add``, else viewer
    ``SEGMENTA_PG_MAX_ROWS``      most rows the Data page reads from PostgreSQL into one dataset
                                  (default 5,000,000); a larger result is refused, naming it
    ``SEGMENTA_PG_MAX_MB``        most memory those rows may take as read, MB (default 2048)
    ``SEGMENTA_PG_HOSTS``         comma-separated PostgreSQL hosts the Data page may connect to
                                  (default: any; set it so the server connects nowhere else)
    ``SEGMENTA_JOBS``             ``diskcache`` (default): background jobs run on the web host,
                                  forked from the web worker; ``celery``: they run on Celery
                                  workers (``celery -A dashboard.celery_app worker``), possibly
                                  on other hosts, with Redis as broker and result store
    ``SEGMENTA_REDIS_URL``        with ``SEGMENTA_JOBS=celery``: the Redis every web worker and
                                  Celery worker shares, e.g. ``redis://jobs-host:6379/0``
    ``SEGMENTA_ENGINE``           ``polars`` (default): the transaction-level work runs on this
                                  host; ``spark``: cleaning Parquet logs, customer features and
                                  itemset mining run on Spark (``pip install -r
                                  requirements-spark.txt`` and Java 17 on every host running jobs)
    ``SEGMENTA_SPARK_MASTER``     with ``SEGMENTA_ENGINE=spark``: the cluster, e.g.
                                  ``spark://spark-master:7077`` (default ``local[*]``)
    ============================  ===============================================================
    """

    data_dir: Path
    cache_dir: Path
    default_dataset: str = BUNDLED_ID
    log_level: str = "INFO"
    secret_key: str = ""
    currency: str = "£"
    memory_cache_items: int = 64
    lock_timeout: int = 120
    request_threads: int = 1
    warm_up: bool = True
    max_upload_mb: int = 300
    job_timeout_s: int = 900
    job_memory_mb: int = 6144
    job_abandon_s: int = 120
    api_dataset: str = BUNDLED_ID
    api_max_body_kb: int = 1024
    api_max_rows: int = 5000
    api_rate_per_minute: int = 120
    api_burst: int = 20
    auth_header: str = ""
    auth_role_header: str = ""
    pg_max_rows: int = 5_000_000
    pg_max_mb: int = 2048
    pg_hosts: tuple[str, ...] = ()
    jobs: str = "diskcache"
    redis_url: str = ""
    engine: str = "polars"
    spark_master: str = ""

    @property
    def api_max_body_bytes(self) -> int:
        return self.api_max_body_kb * 2**10

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 2**20

    def disk_cache_options(self) -> dict:
        """Options for every diskcache folder under ``cache_dir``.

        With Celery workers the folder is shared by several hosts (NFS or the like): SQLite's
        write-ahead log needs memory shared by every process on one host, so there the caches
        use the rollback journal, which needs only the file system's POSIX locks, and no mmap.
        """
        if self.jobs == "celery":
            return {"sqlite_journal_mode": "delete", "sqlite_mmap_size": 0}
        return {}

    def to_json(self) -> dict:
        """Every field as JSON (paths as strings), for a job process."""
        return {f.name: str(v) if isinstance(v, Path) else v for f, v in _fields(self)}

    @classmethod
    def from_json(cls, raw: dict) -> Settings:
        """The inverse of :meth:`to_json`."""
        known = {f.name: f for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        for name in ("data_dir", "cache_dir"):
            values[name] = Path(values[name])
        if "pg_hosts" in values:
            values["pg_hosts"] = tuple(values["pg_hosts"])
        return cls(**values)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        cache_dir = Path(env.get("SEGMENTA_CACHE_DIR") or "var").expanduser().resolve()
        level = env.get("SEGMENTA_LOG_LEVEL", "INFO").upper()
        if _header(env, "SEGMENTA_AUTH_ROLE_HEADER") and not _header(env, "SEGMENTA_AUTH_HEADER"):
            raise ValueError(
                "SEGMENTA_AUTH_ROLE_HEADER is set but SEGMENTA_AUTH_HEADER is not: set "
                "SEGMENTA_AUTH_HEADER to the header naming the user (e.g. X-Remote-User), or "
                "unset both to use the app's own logins."
            )
        if level not in LOG_LEVELS:
            raise ValueError(
                f"SEGMENTA_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}. Got {level!r} instead."
            )
        return cls(
            data_dir=Path(env.get("SEGMENTA_DATA_DIR") or data_dir()).expanduser().resolve(),
            cache_dir=cache_dir,
            default_dataset=env.get("SEGMENTA_DEFAULT_DATASET") or BUNDLED_ID,
            log_level=level,
            secret_key=env.get("SEGMENTA_SECRET_KEY") or _shared_secret(cache_dir),
            currency=env.get("SEGMENTA_CURRENCY") or "£",
            memory_cache_items=_int(env, "SEGMENTA_MEMORY_CACHE", 64, 0, 10_000),
            lock_timeout=_int(env, "SEGMENTA_LOCK_TIMEOUT", 120, 10, 86_400),
            request_threads=_int(env, "SEGMENTA_REQUEST_THREADS", 1, 1, 256),
            warm_up=_flag(env, "SEGMENTA_WARM_UP", True),
            max_upload_mb=_positive_int(env, "SEGMENTA_MAX_UPLOAD_MB", 300),
            job_timeout_s=_positive_int(env, "SEGMENTA_JOB_TIMEOUT_S", 900),
            job_memory_mb=_positive_int(env, "SEGMENTA_JOB_MEMORY_MB", 6144),
            job_abandon_s=_positive_int(env, "SEGMENTA_JOB_ABANDON_S", 120),
            api_dataset=_api_dataset(env.get("SEGMENTA_API_DATASET") or BUNDLED_ID),
            api_max_body_kb=_positive_int(env, "SEGMENTA_API_MAX_BODY_KB", 1024),
            api_max_rows=_positive_int(env, "SEGMENTA_API_MAX_ROWS", 5000),
            api_rate_per_minute=_positive_int(env, "SEGMENTA_API_RATE", 120),
            api_burst=_positive_int(env, "SEGMENTA_API_BURST", 20),
            auth_header=_header(env, "SEGMENTA_AUTH_HEADER"),
            auth_role_header=_header(env, "SEGMENTA_AUTH_ROLE_HEADER"),
            pg_max_rows=_positive_int(env, "SEGMENTA_PG_MAX_ROWS", 5_000_000),
            pg_max_mb=_positive_int(env, "SEGMENTA_PG_MAX_MB", 2048),
            pg_hosts=tuple(
                h.strip().lower()
                for h in (env.get("SEGMENTA_PG_HOSTS") or "").split(",")
                if h.strip()
            ),
            **_jobs(env),
            **_engine(env),
        )

    def configure_logging(self) -> None:
        logging.basicConfig(
            level=self.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number in [{low}, {high}]. Got {raw!r} instead.")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1 or 0. Got {raw!r} instead.")


def _shared_secret(cache_dir: Path) -> str:
    """Read the key in ``cache_dir/secret_key``, creating it atomically the first time.

    The key is written to a private temporary file and hard-linked into place, so a worker never
    reads a half-written key and the first worker's key wins.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / "secret_key"
    if not path.exists():
        tmp = cache_dir / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def _fields(settings: Settings):
    return [(f, getattr(settings, f.name)) for f in fields(settings)]


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"{name} must be a whole number above 0. Got {text!r} instead.")
    return value


def _api_dataset(value: str) -> str:
    """The API's dataset id: uploads (``u-...``) belong to a browser session and are refused."""
    if value.startswith("u-"):
        raise ValueError(
            f"SEGMENTA_API_DATASET must not name an upload ({value!r}): uploads belong to the "
            f"browser session that made them. Leave it unset to serve the bundled data "
            f"({BUNDLED_ID!r})."
        )
    return value


def _header(env: Mapping[str, str], name: str) -> str:
    """An HTTP header name from the environment ('' when unset)."""
    value = (env.get(name) or "").strip()
    if value and not re.fullmatch(r"[A-Za-z0-9-]{1,64}", value):
        raise ValueError(
            f"{name} must be an HTTP header name such as X-Remote-User. Got {value!r} instead."
        )
    return value


def _engine(env: Mapping[str, str]) -> dict:
    """``SEGMENTA_ENGINE`` and ``SEGMENTA_SPARK_MASTER``, checked together."""
    from analytics.engines import engine_from_env
    from analytics.errors import ParameterError

    try:
        engine = engine_from_env(dict(env))
    except ParameterError as error:
        raise ValueError(str(error)) from None
    master = (env.get("SEGMENTA_SPARK_MASTER") or "").strip()
    if engine == "spark":
        import importlib.util

        if importlib.util.find_spec("pyspark") is None:
            raise ValueError(
                "SEGMENTA_ENGINE=spark needs pyspark on this host: pip install -r "
                "requirements-spark.txt (and Java 17: apt-get install openjdk-17-jre-headless), "
                "or unset SEGMENTA_ENGINE to work on this host with polars."
            )
    return {"engine": engine, "spark_master": master}


JOB_BACKENDS = ("diskcache", "celery")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _jobs(env: Mapping[str, str]) -> dict:
    """``SEGMENTA_JOBS`` and ``SEGMENTA_REDIS_URL``, checked together."""
    jobs = (env.get("SEGMENTA_JOBS") or "diskcache").strip().lower()
    redis_url = (env.get("SEGMENTA_REDIS_URL") or "").strip()
    if jobs not in JOB_BACKENDS:
        raise ValueError(
            f"SEGMENTA_JOBS must be diskcache (jobs on this host, the default) or celery (jobs on "
            f"Celery workers). Got {env.get('SEGMENTA_JOBS')!r} instead."
        )
    if jobs == "celery" and not redis_url:
        raise ValueError(
            "SEGMENTA_JOBS=celery needs SEGMENTA_REDIS_URL, the Redis shared by the web servers "
            "and the Celery workers (e.g. redis://jobs-host:6379/0). Set it, or unset "
            "SEGMENTA_JOBS to run jobs on this host."
        )
    if redis_url and not redis_url.startswith(REDIS_SCHEMES):
        raise ValueError(
            "SEGMENTA_REDIS_URL must start with redis://, rediss:// or unix:// "
            f"(e.g. redis://jobs-host:6379/0). Got {redis_url!r} instead."
        )
    return {"jobs": jobs, "redis_url": redis_url}
