"""Shared fixtures: a migrated database per backend (SQLite always, PostgreSQL when given), the app,
and factories for tenants, users and API tokens.

PostgreSQL runs when ``HEXMILL_TEST_PG_URL`` names a server (scripts/run-tests starts a throwaway
one); under CI it is required, so a missing server fails the run instead of skipping silently.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from hexmill.app import create_app
from hexmill.core import identity
from hexmill.core.config import Settings
from hexmill.core.context import Context
from hexmill.core.db import make_engine, make_sessionmaker, transaction
from hexmill.core.migrate import upgrade
from hexmill.core.models import Tenant, User
from hexmill.core.tenancy import ALL_TENANTS, set_scope

pytest_plugins = ["tests.brokers"]

PG_ENV = "HEXMILL_TEST_PG_URL"
PASSWORD = "correct horse battery"
_seq = itertools.count()


def _backends() -> list[str]:
    return ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=_backends())
def backend(request: pytest.FixtureRequest) -> str:
    """Name the database backend the test runs on."""
    name: str = request.param
    if name == "postgresql" and not os.environ.get(PG_ENV):
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set: CI must run the PostgreSQL tests")
        pytest.skip(f"{PG_ENV} not set: no PostgreSQL server for this run")
    return name


def _pg_database(admin_url: str, worker: str) -> str:
    """Create a fresh database owned by the unprivileged application role; return its URL."""
    name = f"hexmill_test_{worker}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        # xdist workers start together: a lock keeps two of them from creating the role at once.
        conn.execute(text("SELECT pg_advisory_lock(7165041)"))
        try:
            exists = conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = 'hexmill_app'"))
            if not exists:
                conn.execute(text("CREATE ROLE hexmill_app LOGIN PASSWORD 'hexmill_app' NOSUPERUSER NOBYPASSRLS"))
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(7165041)"))
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER hexmill_app'))
    admin.dispose()
    base = admin_url.rsplit("/", 1)[0]
    host = base.split("@", 1)[-1]
    return f"postgresql+psycopg://hexmill_app:hexmill_app@{host}/{name}"


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Return the URL of a freshly migrated database for this worker and backend."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'hexmill.db'}"
    else:
        # Read from the environment, not xdist's worker_id fixture, so `-p no:xdist` works too.
        url = _pg_database(os.environ[PG_ENV], os.environ.get("PYTEST_XDIST_WORKER", "main"))
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """Return an engine on the test database."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory of the test database."""
    return make_sessionmaker(engine)


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session scoped to all tenants; committed at the end of the test."""
    with transaction(session_factory) as session:
        yield set_scope(session, ALL_TENANTS)


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Return settings pointing at the test database."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        secret_key="test-only-secret",
        log_json=False,
        log_level="WARNING",
    )


@pytest.fixture(scope="session")
def app(settings: Settings):  # type: ignore[no-untyped-def]
    """Return the ASGI app on the test database; its connections are closed at the end."""
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """Return an HTTP client for the app (no credentials)."""
    with TestClient(app) as c:
        yield c


def unique(prefix: str) -> str:
    """Return a name no other test uses (tests share one database and never clean it)."""
    return f"{prefix}-{os.getpid()}-{next(_seq)}-{uuid.uuid4().hex[:6]}"


@dataclass
class Actor:
    """A user acting in a tenant through an API token."""

    user: User
    tenant: Tenant
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """Return the Authorization header of the actor's token."""
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def tenant_factory(session_factory: sessionmaker[Session]) -> Callable[..., Tenant]:
    """Create enterprises through the service, as the platform would."""

    def make(**fields: object) -> Tenant:
        with transaction(session_factory) as s:
            set_scope(s, ALL_TENANTS)
            return identity.create_tenant(s, Context.system(), name=unique("tenant"), **fields)

    return make


@pytest.fixture
def actor_factory(
    session_factory: sessionmaker[Session], tenant_factory: Callable[..., Tenant]
) -> Callable[..., Actor]:
    """Create a user with a role in a tenant (new by default) and an API token for them."""

    def make(
        role: str = "tenant_admin",
        tenant: Tenant | None = None,
        *,
        platform_admin: bool = False,
        scopes: list[str] | None = None,
    ) -> Actor:
        tenant = tenant or tenant_factory()
        with transaction(session_factory) as s:
            set_scope(s, ALL_TENANTS)
            user = identity.create_platform_user(
                s,
                Context.system(),
                username=unique("user"),
                password=PASSWORD,
                is_platform_admin=platform_admin,
            )
            set_scope(s, tenant.id)
            identity.add_member(s, Context.system(tenant.id), user=user, role_name=role)
            ctx = identity.build_context(s, user, tenant.id)
            _token, secret = identity.create_token(s, ctx, name="test", scopes=scopes)
        return Actor(user=user, tenant=tenant, token=secret)

    return make


@pytest.fixture
def artifacts_dir() -> Path:
    """Return the folder where tests keep artifacts (screenshots) for people to look at."""
    path = Path(os.environ.get("HEXMILL_TEST_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session", autouse=True)
def _close_telemetry_stores() -> Iterator[None]:
    """Close the telemetry stores the run opened (their connections), once every test is done."""
    yield
    from hexmill.telemetry.service import close_stores  # noqa: PLC0415 - only at the end of the run

    close_stores()
