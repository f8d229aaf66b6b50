"""Shared fixtures. Models are built locally; nothing is downloaded."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# One intra-op thread: the test models are tiny, and on a busy 2-core machine OpenMP
# threads waiting for each other made each forward ~20x slower (13 ms vs 270 ms).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest


@pytest.fixture(scope="session")
def tiny_flux_dir(tmp_path_factory):
    """A tiny random FLUX.1 [dev]-style folder (guidance embedding, shifted schedule)."""
    from editing_core.testing import build_tiny_flux

    return build_tiny_flux(tmp_path_factory.mktemp("tiny-flux") / "dev")


@pytest.fixture(scope="session")
def tiny_backend(tiny_flux_dir):
    """FluxBackend loaded from `tiny_flux_dir` on the CPU in float32."""
    from editing_core import FluxBackend

    return FluxBackend.from_pretrained(tiny_flux_dir, device="cpu", dtype="float32")


def _servers_needed(what: str):
    """Skip with how to install, or fail in CI (CI=true), where the servers must run."""
    from mtedit.servers import INSTALL_HINT

    msg = f"{what} is not installed; {INSTALL_HINT}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{msg} (CI must run these tests: .ci/run installs them)")
    pytest.skip(msg)


@pytest.fixture(scope="session")
def postgres_server():
    """A private PostgreSQL for the test session (initdb in a temp folder, a free port)."""
    from mtedit.servers import ServerMissing, private_postgres

    try:
        cm = private_postgres()
        server = cm.__enter__()
    except ServerMissing:
        _servers_needed("PostgreSQL")
    yield server
    cm.__exit__(None, None, None)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A private redis-server for the test session; its URL."""
    from mtedit.servers import ServerMissing, private_redis

    try:
        cm = private_redis(tmp_path_factory.mktemp("redis"))
        url = cm.__enter__()
    except ServerMissing:
        _servers_needed("redis-server")
    yield url
    cm.__exit__(None, None, None)


@pytest.fixture
def postgres_url(postgres_server):
    """A new empty database on the private PostgreSQL; its SQLAlchemy URL."""
    import secrets

    return postgres_server.create_database(f"t_{secrets.token_hex(6)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh database URL, once SQLite and once PostgreSQL (the storage tests run on both)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'mtedit.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(db_url, tmp_path):
    """A Store on `db_url` (SQLite and PostgreSQL) with its blobs under tmp_path/data."""
    from storage import Store

    with Store.open(db_url, tmp_path / "data") as s:
        yield s
