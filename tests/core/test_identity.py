"""Identity rules at the service level: password storage, login limits, console session lifetimes."""

from __future__ import annotations

import re
import stat
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hexmill.core import identity
from hexmill.core.clock import utcnow
from hexmill.core.config import Settings
from hexmill.core.context import Context
from hexmill.core.db import transaction
from hexmill.core.errors import InvalidInput, NotAuthenticated, RateLimited
from hexmill.core.models import AuditEntry, ConsoleSession, LoginAttempt, User
from hexmill.core.security import digest
from hexmill.core.tenancy import ALL_TENANTS, set_scope
from tests.conftest import PASSWORD

LIMITS = identity.LoginLimits(max_failures=3, window=timedelta(minutes=5))
SESSIONS = identity.SessionLimits(idle=timedelta(minutes=30), absolute=timedelta(hours=12))


def _fail(session_factory: sessionmaker[Session], username: str, password: str, client: str) -> type[Exception]:
    try:
        with transaction(session_factory) as s:
            identity.authenticate_password(s, username=username, password=password, client=client, limits=LIMITS)
    except (NotAuthenticated, RateLimited) as exc:
        with transaction(session_factory) as s:
            result = "rate_limited" if isinstance(exc, RateLimited) else "failure"
            identity.record_auth_failure(s, action="auth.login", username=username, client=client, result=result)
        return type(exc)
    return type(None)


def test_passwords_are_stored_as_argon2id(db: Session, actor_factory) -> None:
    actor = actor_factory()
    stored = db.get(User, actor.user.id)
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash


def test_login_accepts_the_right_password(session_factory: sessionmaker[Session], actor_factory) -> None:
    actor = actor_factory()
    with transaction(session_factory) as s:
        user = identity.authenticate_password(
            s, username=actor.user.username.upper(), password=PASSWORD, client="10.0.0.1", limits=LIMITS
        )
    assert user.id == actor.user.id


def test_login_is_blocked_after_repeated_failures(session_factory: sessionmaker[Session], actor_factory) -> None:
    actor = actor_factory()
    name = actor.user.username
    outcomes = [_fail(session_factory, name, "wrong password!", f"client-{name}") for _ in range(3)]
    assert outcomes == [NotAuthenticated] * 3
    # Even the right password is refused while the window lasts.
    assert _fail(session_factory, name, PASSWORD, f"client-{name}") is RateLimited
    with transaction(session_factory) as s:
        set_scope(s, ALL_TENANTS)
        results = list(
            s.scalars(select(AuditEntry.result).where(AuditEntry.username == name, AuditEntry.action == "auth.login"))
        )
    assert results.count("failure") == 3
    assert "rate_limited" in results


def test_unknown_users_fail_like_wrong_passwords(session_factory: sessionmaker[Session]) -> None:
    assert _fail(session_factory, "nobody-at-all", "whatever123", "client-x") is NotAuthenticated


def test_deactivated_users_cannot_log_in(session_factory: sessionmaker[Session], actor_factory) -> None:
    actor = actor_factory()
    with transaction(session_factory) as s:
        set_scope(s, ALL_TENANTS)
        user = s.get(User, actor.user.id)
        assert user is not None
        user.is_active = False
    assert _fail(session_factory, actor.user.username, PASSWORD, "client-y") is NotAuthenticated


def _session_for(session_factory: sessionmaker[Session], user_id: int) -> str:
    with transaction(session_factory) as s:
        set_scope(s, ALL_TENANTS)
        user = s.get(User, user_id)
        assert user is not None
        _row, key = identity.start_console_session(s, user, locale="zh_CN")
    return key


def _age(session_factory: sessionmaker[Session], key: str, *, idle: timedelta, age: timedelta) -> None:
    with transaction(session_factory) as s:
        row = s.scalar(select(ConsoleSession).where(ConsoleSession.key_hash == digest(key)))
        assert row is not None
        row.last_seen_at = utcnow() - idle
        row.created_at = utcnow() - age


@pytest.mark.parametrize(
    ("idle", "age", "alive"),
    [
        (timedelta(minutes=5), timedelta(hours=1), True),
        (timedelta(minutes=31), timedelta(hours=1), False),
        (timedelta(minutes=1), timedelta(hours=13), False),
    ],
)
def test_console_sessions_end_when_idle_or_old(
    session_factory: sessionmaker[Session], actor_factory, idle: timedelta, age: timedelta, alive: bool
) -> None:
    actor = actor_factory()
    key = _session_for(session_factory, actor.user.id)
    _age(session_factory, key, idle=idle, age=age)
    with transaction(session_factory) as s:
        loaded = identity.load_console_session(s, key, SESSIONS)
    assert (loaded is not None) is alive


def test_logout_ends_the_session_for_good(session_factory: sessionmaker[Session], actor_factory) -> None:
    actor = actor_factory()
    key = _session_for(session_factory, actor.user.id)
    with transaction(session_factory) as s:
        identity.end_console_session(s, key, client="10.9.9.9")
    with transaction(session_factory) as s:
        assert identity.load_console_session(s, key, SESSIONS) is None
        set_scope(s, ALL_TENANTS)
        logged = s.scalar(
            select(AuditEntry).where(AuditEntry.action == "auth.logout", AuditEntry.user_id == actor.user.id)
        )
    assert logged is not None
    assert logged.client == "10.9.9.9"


def test_changing_the_password_ends_console_sessions(session_factory: sessionmaker[Session], actor_factory) -> None:
    actor = actor_factory()
    key = _session_for(session_factory, actor.user.id)
    ctx = Context(user_id=actor.user.id, username=actor.user.username, tenant_id=actor.tenant.id)
    with transaction(session_factory) as s:
        set_scope(s, actor.tenant.id)
        with pytest.raises(InvalidInput):
            identity.change_password(s, ctx, current="not it at all", new="a new long password")
    with transaction(session_factory) as s:
        set_scope(s, actor.tenant.id)
        identity.change_password(s, ctx, current=PASSWORD, new="a new long password")
    with transaction(session_factory) as s:
        assert identity.load_console_session(s, key, SESSIONS) is None
        set_scope(s, ALL_TENANTS)
        assert (
            identity.authenticate_password(
                s, username=actor.user.username, password="a new long password", client=None, limits=LIMITS
            ).id
            == actor.user.id
        )


def test_each_installation_generates_its_own_secret(tmp_path) -> None:
    first = Settings(data_dir=tmp_path / "a").resolved_secret_key()
    second = Settings(data_dir=tmp_path / "b").resolved_secret_key()
    assert first != second
    assert len(first) >= 48
    assert Settings(data_dir=tmp_path / "a").resolved_secret_key() == first
    mode = stat.S_IMODE((tmp_path / "a" / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_settings_read_toml_and_environment_wins(tmp_path, monkeypatch) -> None:
    config = tmp_path / "hexmill.toml"
    config.write_text('[hexmill]\nsession_idle_minutes = 7\nlog_level = "DEBUG"\n')
    monkeypatch.setenv("HEXMILL_CONFIG", str(config))
    monkeypatch.setenv("HEXMILL_LOG_LEVEL", "ERROR")
    settings = Settings()
    assert settings.session_idle_minutes == 7
    assert settings.log_level == "ERROR"
    assert settings.resolved_database_url.endswith("var/hexmill.db")


def test_a_login_purges_expired_sessions_and_old_failures(app, session_factory, actor_factory) -> None:
    actor = actor_factory()
    stale = _session_for(session_factory, actor.user.id)
    _age(session_factory, stale, idle=timedelta(hours=2), age=timedelta(hours=3))
    with transaction(session_factory) as s:
        s.add(LoginAttempt(key="user:long-gone", at=utcnow() - timedelta(days=2)))
    with TestClient(app) as client:
        page = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        done = client.post(
            "/login",
            data={"username": actor.user.username, "password": PASSWORD, "csrf_token": csrf.group(1), "next": "/"},
            follow_redirects=False,
        )
        assert done.status_code == 303
    with transaction(session_factory) as s:
        assert s.scalar(select(ConsoleSession).where(ConsoleSession.key_hash == digest(stale))) is None
        assert s.scalar(select(LoginAttempt).where(LoginAttempt.key == "user:long-gone")) is None
