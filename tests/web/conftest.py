"""Fixtures of the console page tests: a browser-like client per test, logging in through the form."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import PASSWORD

_addresses = itertools.count(1)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser(TestClient):
    """A test client with its own client address (the login rate limit counts per address)."""

    def csrf(self, path: str = "/") -> str:
        """Return the CSRF token of the page at ``path``."""
        match = CSRF.search(self.get(path).text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
        """Log in through the form, as a person would."""
        token = self.csrf("/login")
        return self.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token, "next": "/"},
            follow_redirects=False,
        )


@pytest.fixture
def browser_factory(app) -> Iterator[Callable[[], Browser]]:  # type: ignore[no-untyped-def]
    """Make clients that each come from a different address."""
    made: list[Browser] = []

    def make() -> Browser:
        n = next(_addresses)
        client = Browser(app, client=(f"10.77.{n // 250}.{n % 250 + 1}", 50000))
        client.__enter__()
        made.append(client)
        return client

    yield make
    for client in made:
        client.__exit__(None, None, None)


@pytest.fixture
def browser(browser_factory: Callable[[], Browser]) -> Browser:
    """Return a fresh, logged-out browser."""
    return browser_factory()
