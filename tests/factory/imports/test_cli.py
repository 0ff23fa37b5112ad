"""The ``hexmill factory import`` command: imports a file into one enterprise, prints every error as a table
and exits non-zero on errors, keeps nothing on a dry run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hexmill.cli import app
from hexmill.core.config import get_settings
from tests.factory.imports.conftest import ITEM_HEADER, as_file


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """Return a CLI runner on a fresh SQLite database with one enterprise, "Acme"."""
    monkeypatch.setenv("HEXMILL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HEXMILL_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["admin", "create-tenant", "Acme"]).exit_code == 0
    yield runner
    get_settings.cache_clear()


def test_factory_import_help(runner: CliRunner) -> None:
    result = runner.invoke(app, ["factory", "import", "--help"])
    assert result.exit_code == 0 and "--dry-run" in result.output


def test_import_dry_run_errors_and_import(runner: CliRunner, tmp_path: Path) -> None:
    good = tmp_path / "items.csv"
    good.write_bytes(as_file(ITEM_HEADER, [[f"C-{i}", f"Part {i}", "raw", "pcs", "none", "no"] for i in range(30)]))
    dry = runner.invoke(app, ["factory", "import", "items", str(good), "--tenant", "Acme", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "30 rows read; would create 30 items" in dry.output
    done = runner.invoke(app, ["factory", "import", "items", str(good), "--tenant", "Acme"])
    assert done.exit_code == 0, done.output
    assert "created 30 items" in done.output
    again = runner.invoke(app, ["factory", "import", "items", str(good), "--tenant", "Acme"])
    assert again.exit_code == 1
    assert "nothing was imported" in again.output and "The code C-0 is already taken." in again.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(as_file(ITEM_HEADER, [["N-1", "Nut", "raw", "furlong", "none", "no"]]))
    refused = runner.invoke(app, ["factory", "import", "items", str(bad), "--tenant", "Acme", "--lang", "zh_CN"])
    assert refused.exit_code == 1
    assert "furlong" in refused.output and "uom" in refused.output
    unknown = runner.invoke(app, ["factory", "import", "widgets", str(bad), "--tenant", "Acme"])
    assert unknown.exit_code == 2
