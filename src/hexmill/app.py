"""ASGI application factory: mounts each domain's router and console pages."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hexmill.core.config import Settings, get_settings
from hexmill.core.db import make_engine, make_sessionmaker
from hexmill.core.errors import PROBLEM_BASE, HexmillError
from hexmill.core.i18n import N_, gettext
from hexmill.core.observability import Metrics
from hexmill.core.observability import router as ops_router

log = logging.getLogger("hexmill.app")
PROBLEM = "application/problem+json"
API_PREFIX = "/api/v1"

# Pydantic error types, as msgids in our catalogs, so validation errors speak the user's language.
_VALIDATION_MESSAGES: dict[str, str] = {
    "missing": N_("This field is required."),
    "extra_forbidden": N_("Unknown field."),
    "string_too_long": N_("Too long: at most %(max_length)s characters."),
    "string_too_short": N_("Too short: at least %(min_length)s characters."),
    "string_pattern_mismatch": N_("Not in the expected format."),
    "string_type": N_("Must be text."),
    "int_type": N_("Must be a whole number."),
    "int_parsing": N_("Must be a whole number."),
    "float_type": N_("Must be a number."),
    "float_parsing": N_("Must be a number."),
    "bool_type": N_("Must be true or false."),
    "bool_parsing": N_("Must be true or false."),
    "greater_than_equal": N_("Must be at least %(ge)s."),
    "less_than_equal": N_("Must be at most %(le)s."),
    "greater_than": N_("Must be more than %(gt)s."),
    "less_than": N_("Must be less than %(lt)s."),
    "json_invalid": N_("The body is not valid JSON."),
    "model_attributes_type": N_("Must be an object."),
    "dict_type": N_("Must be an object."),
    "list_type": N_("Must be a list."),
    "too_long": N_("Too many items: at most %(max_length)s."),
    "datetime_parsing": N_("Must be a date and time (RFC 3339)."),
    "datetime_type": N_("Must be a date and time (RFC 3339)."),
    "datetime_from_date_parsing": N_("Must be a date and time (RFC 3339)."),
    "timezone_aware": N_("Must be a date and time (RFC 3339)."),  # RFC 3339 times carry their offset
    "literal_error": N_("Must be one of %(expected)s."),
    "enum": N_("Must be one of %(expected)s."),
}


def problem_response(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """Return a problem document with the RFC 9457 media type."""
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def validation_problem(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """Turn pydantic/FastAPI errors into one problem listing each offending field."""
    items = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in {"body", "query", "path", "header", "cookie"}:
            loc = loc[1:]
        # A JSON syntax error is located by character offset, which is no field: name the body.
        field = "body" if err.get("type") == "json_invalid" else ".".join(loc) or "body"
        msgid = _VALIDATION_MESSAGES.get(err.get("type", ""))
        if msgid:
            ctx = {k: v if isinstance(v, int | float | str) else str(v) for k, v in (err.get("ctx") or {}).items()}
            try:
                detail = gettext(msgid) % ctx if "%(" in msgid else gettext(msgid)
            except (KeyError, TypeError, ValueError):
                detail = gettext(msgid)
        else:
            detail = err.get("msg", gettext(N_("Not valid.")))
        items.append({"field": field, "detail": detail, "code": err.get("type")})
    return {
        "type": PROBLEM_BASE + "validation-error",
        "title": gettext(N_("Invalid input")),
        "status": 422,
        "detail": gettext(N_("The request has %(n)s invalid fields.")) % {"n": len(items)},
        "field": items[0]["field"] if items else None,
        "errors": items,
    }


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error with problem+json; unexpected ones are logged, not leaked."""

    @app.exception_handler(HexmillError)
    async def _domain(request: Request, exc: HexmillError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem_response(exc.render(request.url.path), exc.status, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(validation_problem(list(exc.errors())), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        title = {404: N_("Not found"), 405: N_("Method not allowed")}.get(exc.status_code, N_("Error"))
        body = {
            "type": PROBLEM_BASE + slug,
            "title": gettext(title),
            "status": exc.status_code,
            "detail": gettext(title),
        }
        return problem_response(body, exc.status_code, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path, "method": request.method})
        body = {
            "type": PROBLEM_BASE + "internal-error",
            "title": gettext(N_("Internal error")),
            "status": 500,
            "detail": gettext(N_("Something went wrong on our side; it has been logged.")),
        }
        return problem_response(body, 500)


# Error answers every API operation may give, documented once so clients see the problem shape.
_PROBLEM_STATUSES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Permission denied",
    404: "Not found",
    409: "Conflict",
    422: "Invalid input",
}


def problem_responses() -> dict[int | str, dict[str, Any]]:
    """Return the OpenAPI ``responses`` of the problem documents an API router may answer with."""
    from hexmill.core.schemas import Problem  # noqa: PLC0415 - as create_app's imports

    return {
        code: {"model": Problem, "description": title, "content": {PROBLEM: {}}}
        for code, title in _PROBLEM_STATUSES.items()
    }


def _document_problems(app: FastAPI) -> None:
    """Make the OpenAPI schema say what the error handlers send: problem+json, not application/json.

    FastAPI puts a response ``model`` under the route's own media type; the problem schema is moved
    to ``application/problem+json`` once, when the schema is first built.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for item in schema.get("paths", {}).values():
                for operation in item.values():
                    for response in operation.get("responses", {}).values():
                        content = response.get("content", {})
                        if PROBLEM in content and "application/json" in content:
                            content[PROBLEM] = content.pop("application/json")
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the ASGI app for ``settings`` (default: the environment's)."""
    from hexmill.core.api import router as core_router  # noqa: PLC0415 - routers load when an app is built
    from hexmill.core.deps import pick_locale  # noqa: PLC0415 - as above
    from hexmill.core.logs import configure_logging  # noqa: PLC0415 - as above

    settings = settings or get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    app = FastAPI(
        title="hexmill",
        version="0.1.0",
        summary="Open industrial internet platform",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    engine = make_engine(settings.resolved_database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.metrics = Metrics()
    app.state.secret_key = settings.resolved_secret_key()
    install_error_handlers(app)

    @app.middleware("http")
    async def _locale(request: Request, call_next: Any) -> Any:
        pick_locale(request)
        return await call_next(request)

    app.middleware("http")(app.state.metrics.middleware)
    app.include_router(ops_router)
    app.include_router(core_router, prefix=API_PREFIX, responses=problem_responses())
    for router in _domain_routers():
        app.include_router(router, prefix=API_PREFIX, responses=problem_responses())
    _document_problems(app)
    _mount_console(app)
    return app


def _domain_routers() -> list[Any]:
    """Return the API routers of the domains (each domain's ``api.router``)."""
    from hexmill.assets.api import router as assets_router  # noqa: PLC0415 - domains load with the app
    from hexmill.connect.http.api import router as ingest_router  # noqa: PLC0415 - as above
    from hexmill.connect.opcua.api import router as opcua_router  # noqa: PLC0415 - as above
    from hexmill.connect.registry.api import router as devices_router  # noqa: PLC0415 - as above
    from hexmill.factory.imports.api import router as imports_router  # noqa: PLC0415 - as above
    from hexmill.factory.inventory.api import router as inventory_router  # noqa: PLC0415 - as above
    from hexmill.factory.kpi.api import router as kpi_router  # noqa: PLC0415 - as above
    from hexmill.factory.maintenance.api import router as maintenance_router  # noqa: PLC0415 - as above
    from hexmill.factory.masterdata.api import router as masterdata_router  # noqa: PLC0415 - as above
    from hexmill.factory.production.api import router as production_router  # noqa: PLC0415 - as above
    from hexmill.factory.purchasing.api import router as purchasing_router  # noqa: PLC0415 - as above
    from hexmill.factory.quality.api import router as quality_router  # noqa: PLC0415 - as above
    from hexmill.factory.sales.api import router as sales_router  # noqa: PLC0415 - as above
    from hexmill.telemetry.api import router as telemetry_router  # noqa: PLC0415 - as above

    return [
        assets_router,
        devices_router,
        opcua_router,
        ingest_router,
        telemetry_router,
        masterdata_router,
        inventory_router,
        purchasing_router,
        sales_router,
        production_router,
        quality_router,
        maintenance_router,
        imports_router,
        kpi_router,
    ]


def _mount_console(app: FastAPI) -> None:
    """Mount the web console (pages and static assets) if present."""
    try:
        from hexmill.web.views import mount  # noqa: PLC0415 - the console is optional
    except ImportError:
        return
    mount(app)
