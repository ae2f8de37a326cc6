import pytest

from dashboard.settings import Settings


def test_from_env(tmp_path):
    s = Settings.from_env(
        {
            "SEGMENTA_CACHE_DIR": str(tmp_path / "c"),
            "SEGMENTA_LOG_LEVEL": "debug",
            "SEGMENTA_SECRET_KEY": "k",
            "SEGMENTA_CURRENCY": "$",
        }
    )
    assert s.cache_dir == (tmp_path / "c").resolve() and s.cache_dir.is_absolute()
    assert s.log_level == "DEBUG" and s.secret_key == "k" and s.currency == "$"
    assert (s.data_dir / "online_retail_2009_2011.parquet").exists()


def test_generated_secret_is_shared_by_every_worker(tmp_path):
    first = Settings.from_env({"SEGMENTA_CACHE_DIR": str(tmp_path)})
    second = Settings.from_env({"SEGMENTA_CACHE_DIR": str(tmp_path)})
    assert first.secret_key == second.secret_key and len(first.secret_key) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_bad_log_level(tmp_path):
    with pytest.raises(
        ValueError,
        match="SEGMENTA_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR. Got 'LOUD' instead.",
    ):
        Settings.from_env({"SEGMENTA_CACHE_DIR": str(tmp_path), "SEGMENTA_LOG_LEVEL": "loud"})


def test_ceilings_have_defaults_and_read_the_environment(tmp_path):
    s = Settings.from_env({"SEGMENTA_CACHE_DIR": str(tmp_path)})
    assert (s.max_upload_mb, s.job_timeout_s, s.job_memory_mb, s.job_abandon_s) == (
        300,
        900,
        6144,
        120,
    )
    s = Settings.from_env(
        {
            "SEGMENTA_CACHE_DIR": str(tmp_path),
            "SEGMENTA_MAX_UPLOAD_MB": "5",
            "SEGMENTA_JOB_TIMEOUT_S": "60",
            "SEGMENTA_JOB_MEMORY_MB": "2048",
            "SEGMENTA_JOB_ABANDON_S": "30",
        }
    )
    assert s.max_upload_bytes == 5 * 2**20 and s.job_timeout_s == 60
    assert Settings.from_json(s.to_json()) == s


@pytest.mark.parametrize("value", ["0", "-5", "lots", "1.5"])
def test_bad_ceiling(tmp_path, value):
    with pytest.raises(
        ValueError,
        match=f"SEGMENTA_JOB_TIMEOUT_S must be a whole number above 0. Got '{value}' instead.",
    ):
        Settings.from_env({"SEGMENTA_CACHE_DIR": str(tmp_path), "SEGMENTA_JOB_TIMEOUT_S": value})


def test_cache_and_request_settings(tmp_path):
    s = Settings.from_env({"SEGMENTA_CACHE_DIR": str(tmp_path)})
    assert (s.memory_cache_items, s.lock_timeout, s.request_threads, s.warm_up) == (
        64,
        120,
        1,
        True,
    )
    s = Settings.from_env(
        {
            "SEGMENTA_CACHE_DIR": str(tmp_path),
            "SEGMENTA_MEMORY_CACHE": "0",
            "SEGMENTA_LOCK_TIMEOUT": "30",
            "SEGMENTA_REQUEST_THREADS": "2",
            "SEGMENTA_WARM_UP": "0",
        }
    )
    assert (s.memory_cache_items, s.lock_timeout, s.request_threads, s.warm_up) == (0, 30, 2, False)
    assert Settings.from_json(s.to_json()) == s


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "SEGMENTA_MEMORY_CACHE",
            "-1",
            "SEGMENTA_MEMORY_CACHE must be a whole number in [0, 10000]",
        ),
        (
            "SEGMENTA_LOCK_TIMEOUT",
            "5",
            "SEGMENTA_LOCK_TIMEOUT must be a whole number in [10, 86400]",
        ),
        ("SEGMENTA_REQUEST_THREADS", "two", "Got 'two' instead."),
        ("SEGMENTA_WARM_UP", "maybe", "SEGMENTA_WARM_UP must be 1 or 0. Got 'maybe' instead."),
    ],
)
def test_bad_cache_settings_are_named(tmp_path, name, value, message):
    with pytest.raises(ValueError) as info:
        Settings.from_env({"SEGMENTA_CACHE_DIR": str(tmp_path), name: value})
    assert message in str(info.value)


def test_api_settings_have_defaults_and_read_the_environment(tmp_path):
    default = Settings.from_env({"SEGMENTA_CACHE_DIR": str(tmp_path)})
    assert (default.api_dataset, default.api_max_body_kb, default.api_max_rows) == (
        "uci-online-retail",
        1024,
        5000,
    )
    assert (default.api_rate_per_minute, default.api_burst) == (120, 20)
    assert default.api_max_body_bytes == 1024 * 1024
    s = Settings.from_env(
        {
            "SEGMENTA_CACHE_DIR": str(tmp_path),
            "SEGMENTA_API_MAX_BODY_KB": "64",
            "SEGMENTA_API_MAX_ROWS": "100",
            "SEGMENTA_API_RATE": "30",
            "SEGMENTA_API_BURST": "5",
        }
    )
    assert (s.api_max_body_bytes, s.api_max_rows, s.api_rate_per_minute, s.api_burst) == (
        64 * 1024,
        100,
        30,
        5,
    )
    assert Settings.from_json(s.to_json()) == s


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "SEGMENTA_API_MAX_BODY_KB",
            "0",
            "SEGMENTA_API_MAX_BODY_KB must be a whole number above 0",
        ),
        ("SEGMENTA_API_MAX_ROWS", "many", "SEGMENTA_API_MAX_ROWS must be a whole number above 0"),
        ("SEGMENTA_API_RATE", "-1", "SEGMENTA_API_RATE must be a whole number above 0"),
        ("SEGMENTA_API_BURST", "1.5", "SEGMENTA_API_BURST must be a whole number above 0"),
        (
            "SEGMENTA_API_DATASET",
            "u-" + "0" * 32,
            "SEGMENTA_API_DATASET must not name an upload",
        ),
    ],
)
def test_bad_api_settings_are_named(tmp_path, name, value, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env({"SEGMENTA_CACHE_DIR": str(tmp_path), name: value})


def test_jobs_default_to_this_host_and_celery_reads_the_redis_url(tmp_path):
    default = Settings.from_env({"SEGMENTA_CACHE_DIR": str(tmp_path)})
    assert (default.jobs, default.redis_url) == ("diskcache", "")
    s = Settings.from_env(
        {
            "SEGMENTA_CACHE_DIR": str(tmp_path),
            "SEGMENTA_JOBS": "Celery",
            "SEGMENTA_REDIS_URL": "redis://jobs-host:6379/2",
        }
    )
    assert (s.jobs, s.redis_url) == ("celery", "redis://jobs-host:6379/2")
    assert Settings.from_json(s.to_json()) == s


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SEGMENTA_JOBS": "rq"},
            "SEGMENTA_JOBS must be diskcache (jobs on this host, the default) or celery (jobs on "
            "Celery workers). Got 'rq' instead.",
        ),
        (
            {"SEGMENTA_JOBS": "celery"},
            "SEGMENTA_JOBS=celery needs SEGMENTA_REDIS_URL, the Redis shared by the web servers "
            "and the Celery workers (e.g. redis://jobs-host:6379/0). Set it, or unset "
            "SEGMENTA_JOBS to run jobs on this host.",
        ),
        (
            {"SEGMENTA_JOBS": "celery", "SEGMENTA_REDIS_URL": "jobs-host:6379"},
            "SEGMENTA_REDIS_URL must start with redis://, rediss:// or unix:// "
            "(e.g. redis://jobs-host:6379/0). Got 'jobs-host:6379' instead.",
        ),
    ],
)
def test_bad_job_settings_are_named(tmp_path, env, message):
    with pytest.raises(ValueError) as info:
        Settings.from_env({"SEGMENTA_CACHE_DIR": str(tmp_path), **env})
    assert str(info.value) == message
