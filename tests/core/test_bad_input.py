"""Bad input is answered with one 422 problem naming the offending field, in the caller's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hexmill.core.i18n import translations

PROBLEM = "application/problem+json"
VALIDATION = "urn:hexmill:problem:validation-error"


@pytest.fixture
def admin(actor_factory: Callable[..., Any]) -> Any:
    """Return a tenant admin, who may call every endpoint below."""
    return actor_factory("tenant_admin")


def _send(client: TestClient, case: dict[str, Any], headers: dict[str, str]) -> Any:
    kwargs: dict[str, Any] = {"headers": {**headers, **case.get("headers", {})}}
    if "raw" in case:
        kwargs["content"] = case["raw"]
        kwargs["headers"].setdefault("content-type", "application/json")
    elif "json" in case:
        kwargs["json"] = case["json"]
    return client.request(case["method"], case["url"], **kwargs)


CASES: dict[str, dict[str, Any]] = {
    "malformed JSON": {
        "method": "POST",
        "url": "/api/v1/roles",
        "raw": b'{"name": "inspector", ',
        "field": "body",
        "msgid": "The body is not valid JSON.",
    },
    "body is not an object": {
        "method": "POST",
        "url": "/api/v1/roles",
        "json": ["inspector"],
        "field": "body",
        "msgid": "Must be an object.",
    },
    "number where text belongs": {
        "method": "POST",
        "url": "/api/v1/roles",
        "json": {"name": 123},
        "field": "name",
        "msgid": "Must be text.",
    },
    "text where a list belongs": {
        "method": "POST",
        "url": "/api/v1/roles",
        "json": {"name": "inspector", "permissions": "assets.view"},
        "field": "permissions",
        "msgid": "Must be a list.",
    },
    "text where a boolean belongs": {
        "method": "PATCH",
        "url": "/api/v1/users/1",
        "json": {"is_active": "perhaps"},
        "field": "is_active",
        "msgid": "Must be true or false.",
    },
    "oversize description": {
        "method": "POST",
        "url": "/api/v1/roles",
        "json": {"name": "inspector", "description": "x" * 2001},
        "field": "description",
        "msgid": "Too long: at most %(max_length)s characters.",
        "params": {"max_length": 2000},
    },
    "oversize token name": {
        "method": "POST",
        "url": "/api/v1/tokens",
        "json": {"name": "t" * 101},
        "field": "name",
        "msgid": "Too long: at most %(max_length)s characters.",
        "params": {"max_length": 100},
    },
    "oversize item in a list": {
        "method": "POST",
        "url": "/api/v1/roles",
        "json": {"name": "inspector", "permissions": ["a." + "b" * 70]},
        "field": "permissions.0",
        "msgid": "Too long: at most %(max_length)s characters.",
        "params": {"max_length": 64},
    },
    "unknown field": {
        "method": "POST",
        "url": "/api/v1/roles",
        "json": {"name": "inspector", "colour": "red"},
        "field": "colour",
        "msgid": "Unknown field.",
    },
    "missing field": {
        "method": "POST",
        "url": "/api/v1/tokens",
        "json": {},
        "field": "name",
        "msgid": "This field is required.",
    },
    "naive expiry time": {
        "method": "POST",
        "url": "/api/v1/tokens",
        "json": {"name": "ci", "expires_at": "2030-01-01T00:00:00"},
        "field": "expires_at",
        "msgid": "Must be a date and time (RFC 3339).",
    },
    "expiry that is no time": {
        "method": "POST",
        "url": "/api/v1/tokens",
        "json": {"name": "ci", "expires_at": "soon"},
        "field": "expires_at",
        "msgid": "Must be a date and time (RFC 3339).",
    },
    "id that is no number": {
        "method": "GET",
        "url": "/api/v1/roles/abc",
        "field": "role_id",
        "msgid": "Must be a whole number.",
    },
    "id beyond 32 bits": {
        "method": "GET",
        "url": f"/api/v1/roles/{2**40}",
        "field": "role_id",
        "msgid": "Must be at most %(le)s.",
        "params": {"le": 2**31 - 1},
    },
    "limit too large": {
        "method": "GET",
        "url": "/api/v1/audit?limit=100000",
        "field": "limit",
        "msgid": "Must be at most %(le)s.",
        "params": {"le": 500},
    },
    "naive time in a filter": {
        "method": "GET",
        "url": "/api/v1/audit?since=2026-01-01T00:00:00",
        "field": "since",
        "msgid": "Not a valid value.",
    },
}


def _expected(msgid: str, params: dict[str, Any], locale: str) -> str | None:
    """Return the detail the locale's catalog gives, or None when it has no translation yet."""
    text = translations(locale).gettext(msgid)
    if locale != "en" and text == msgid:
        return None
    return text % params if params else text


def _check(response: Any, case: dict[str, Any], locale: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == VALIDATION
    assert body["status"] == 422
    assert body["field"] == case["field"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    fields = {e["field"]: e for e in body["errors"]}
    assert case["field"] in fields
    expected = _expected(case["msgid"], case.get("params", {}), locale)
    if expected is not None:
        assert fields[case["field"]]["detail"] == expected


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_a_422_problem_naming_the_field(client: TestClient, admin: Any, name: str) -> None:
    case = CASES[name]
    _check(_send(client, case, admin.headers), case, "en")


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_explained_in_chinese(client: TestClient, admin: Any, name: str) -> None:
    case = CASES[name]
    response = _send(client, case, {**admin.headers, "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    _check(response, case, "zh_CN")
    body = response.json()
    # The title is always in the catalog; when it is translated, so is the answer's frame.
    title = translations("zh_CN").gettext("Invalid input")
    if body["type"] == VALIDATION and title != "Invalid input":
        assert body["title"] == title


def test_bad_input_leaves_nothing_behind(client: TestClient, admin: Any) -> None:
    before = client.get("/api/v1/roles", headers=admin.headers).json()
    response = client.post(
        "/api/v1/roles", headers=admin.headers, json={"name": "half_valid", "permissions": ["assets.view"], "x": 1}
    )
    assert response.status_code == 422
    assert client.get("/api/v1/roles", headers=admin.headers).json() == before


def test_every_error_of_a_request_is_listed(client: TestClient, admin: Any) -> None:
    response = client.post(
        "/api/v1/roles", headers=admin.headers, json={"name": 5, "description": "d" * 3000, "colour": "red"}
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"name", "description", "colour"}
