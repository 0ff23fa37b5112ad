"""The zh_CN catalog translates every message the source marks, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from hexmill.core import i18n

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "hexmill"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdifr]")
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}


def _extracted() -> dict[str | tuple[str, ...], str]:
    """Return every marked message of the source (as the catalog script extracts them) and where."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[str | tuple[str, ...], str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        SOURCE, method_map, options_map, keywords=KEYWORDS
    ):
        key = message if isinstance(message, str) else tuple(m for m in message if m)
        found.setdefault(key, f"{filename}:{lineno}")
    return found


def _catalog(locale: str):  # type: ignore[no-untyped-def]
    with (i18n.LOCALE_DIR / locale / "LC_MESSAGES" / f"{i18n.DOMAIN}.po").open("rb") as fh:
        return read_po(fh, locale=locale)


@pytest.fixture(scope="module")
def extracted() -> dict[str | tuple[str, ...], str]:
    return _extracted()


def test_extraction_finds_python_and_template_messages(extracted: dict[str | tuple[str, ...], str]) -> None:
    places = set(extracted.values())
    assert any(p.endswith(".html") or ".html:" in p for p in places)
    assert "Wrong username or password." in extracted  # core, marked with N_
    assert "Read the audit log" in extracted  # a permission label
    assert "Log in to hexmill" in extracted  # a template


def test_every_message_has_a_chinese_translation(extracted: dict[str | tuple[str, ...], str]) -> None:
    catalog = _catalog("zh_CN")
    missing = []
    for key, where in sorted(extracted.items(), key=str):
        msgid = key if isinstance(key, str) else key[0]
        message = catalog.get(msgid)
        strings = [] if message is None else ([message.string] if isinstance(message.string, str) else message.string)
        if message is None or not strings or not all(strings) or message.fuzzy:
            missing.append(f"{where}: {key!r}")
    assert not missing, "untranslated (run scripts/update-catalogs, then translate):\n" + "\n".join(missing)


def test_translations_keep_the_placeholders() -> None:
    wrong = []
    for message in _catalog("zh_CN"):
        if not message.id or not message.string:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        expected = set(PLACEHOLDER.findall(ids[-1]))
        for text in strings:
            if set(PLACEHOLDER.findall(text)) != expected:
                wrong.append(f"{ids[0]!r} -> {text!r}")
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


def test_catalog_compiles_and_translates() -> None:
    i18n.translations.cache_clear()
    assert i18n.translations("zh_CN").gettext("Wrong username or password.") == "用户名或密码错误。"
    assert i18n.translations("zh_CN").ngettext("%(num)d entry", "%(num)d entries", 3) == "%(num)d 条记录"
