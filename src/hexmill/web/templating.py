"""The console's Jinja2 environment (gettext of the request's locale), rendering and flash messages."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape

from hexmill.core import i18n
from hexmill.core.i18n import N_
from hexmill.core.permissions import PERMISSIONS

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
FLASH_COOKIE = "hexmill_flash"
LANG_COOKIE = "hexmill_lang"
LOCALE_NAMES = {"zh_CN": "简体中文", "en": "English"}
SIZE_LABELS = {"micro": N_("Micro"), "small": N_("Small"), "medium": N_("Medium"), "large": N_("Large")}

# Domain packages keep their page templates beside their views, under <package>/templates/;
# templates name them with a prefix ("assets/tree.html"): prefix -> package folder.
DOMAIN_TEMPLATE_DIRS = {
    "assets": "assets",
    "devices": "connect/registry",
    "telemetry": "telemetry",
    "inventory": "factory/inventory",
    "purchasing": "factory/purchasing",
    "factory": "factory/masterdata",
    "sales": "factory/sales",
    "production": "factory/production",
    "quality": "factory/quality",
    "maintenance": "factory/maintenance",
    "imports": "factory/imports",
    "kpi": "factory/kpi",
}


@cache
def environment() -> Environment:
    """Return the console's template environment (built on first use, not at import)."""
    package_dir = WEB_DIR.parent
    loader = ChoiceLoader(
        [
            FileSystemLoader(TEMPLATES_DIR),
            PrefixLoader(
                {
                    prefix: FileSystemLoader(package_dir / path / "templates")
                    for prefix, path in DOMAIN_TEMPLATE_DIRS.items()
                }
            ),
        ]
    )
    env = Environment(
        loader=loader,
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["permission_labels"] = {p.code: p.label for p in PERMISSIONS}
    env.globals["locale_names"] = LOCALE_NAMES
    env.globals["size_labels"] = SIZE_LABELS
    env.globals["size_options"] = lambda: [(k, i18n.gettext(v)) for k, v in SIZE_LABELS.items()]
    env.filters["dt"] = _format_datetime
    return env


def _format_datetime(value: Any) -> str:
    if value is None:
        return ""
    return str(value.strftime("%Y-%m-%d %H:%M:%S UTC"))


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page template with the layout's context (user, enterprise, CSRF token, flash)."""
    page = getattr(request.state, "page", None)
    flashes = read_flash(request)
    html = (
        environment()
        .get_template(name)
        .render(
            request=request,
            page=page,
            csrf_token=page.csrf_token if page is not None else context.pop("anon_csrf", ""),
            locale=i18n.get_locale(),
            lang_attr=i18n.get_locale().replace("_", "-"),
            flashes=flashes,
            **context,
        )
    )
    # Console pages show account data (and once, a token's secret): keep them out of caches.
    response = HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
    if flashes:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(url: str) -> RedirectResponse:
    """Return a See Other redirect, so a form POST is followed by a GET."""
    return RedirectResponse(url, status_code=303)


def _sign(request: Request, payload: str) -> str:
    key = str(request.app.state.secret_key).encode()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()[:32]


def flash(request: Request, response: Response, message: str, level: str = "ok", **params: Any) -> Response:
    """Attach a one-time message (a msgid, translated when shown) to the next page rendered."""
    payload = base64.urlsafe_b64encode(json.dumps([level, message, params]).encode()).decode()
    response.set_cookie(
        FLASH_COOKIE,
        f"{payload}.{_sign(request, payload)}",
        httponly=True,
        samesite="lax",
        path="/",
    )
    return response


def read_flash(request: Request) -> list[tuple[str, str]]:
    """Return the pending flash message, translated, if its signature holds."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or "." not in raw:
        return []
    payload, _, signature = raw.rpartition(".")
    if not hmac.compare_digest(signature, _sign(request, payload)):
        return []
    try:
        level, message, params = json.loads(base64.urlsafe_b64decode(payload.encode()))
        text = i18n.gettext(message)
        return [(str(level), text % params if params else text)]
    except (binascii.Error, ValueError, TypeError, KeyError):
        return []
