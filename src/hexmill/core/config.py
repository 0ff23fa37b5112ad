"""Settings of one hexmill installation, read from HEXMILL_* variables and an optional TOML file."""

from __future__ import annotations

import os
import secrets
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class _TomlSource(PydanticBaseSettingsSource):
    """Read settings from the TOML file named by HEXMILL_CONFIG (or ./hexmill.toml if present)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("HEXMILL_CONFIG")
        candidate = Path(path) if path else Path("hexmill.toml")
        if not candidate.is_file():
            return {}
        with candidate.open("rb") as fh:
            data = tomllib.load(fh)
        section = data.get("hexmill", data)
        return {k: v for k, v in section.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    """All tunables of one installation; environment variables win over the TOML file."""

    model_config = SettingsConfigDict(env_prefix="HEXMILL_", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str | None = None
    secret_key: str | None = None
    default_locale: str = "en"
    session_idle_minutes: int = Field(default=30, ge=1)
    session_absolute_hours: int = Field(default=12, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    cookie_secure: bool = False
    log_json: bool = True
    log_level: str = "INFO"
    #: Seconds between background refreshes of telemetry rollups in ``hexmill serve`` (0: off).
    telemetry_refresh_s: float = Field(default=10.0, ge=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Put init arguments first, then the environment, then the TOML file."""
        return (init_settings, env_settings, _TomlSource(settings_cls))

    @property
    def resolved_database_url(self) -> str:
        """Return the database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hexmill.db').as_posix()}"

    def resolved_secret_key(self) -> str:
        """Return the installation's secret, generating and storing one on first use.

        No default secret ships with hexmill: each installation gets its own random key,
        kept in ``<data_dir>/secret_key`` with owner-only permissions.
        """
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.is_file():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (read once, on first call)."""
    return Settings()
