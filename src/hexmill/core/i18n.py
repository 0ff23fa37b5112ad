"""gettext translations (en, zh_CN) read from the .po catalogs, and the current request's locale."""

from __future__ import annotations

import io
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES: Final[tuple[str, ...]] = ("en", "zh_CN")
DEFAULT_LOCALE: Final = "en"
LOCALE_DIR: Final = Path(__file__).resolve().parent.parent / "locale"
DOMAIN: Final = "messages"

_current: ContextVar[str] = ContextVar("hexmill_locale", default=DEFAULT_LOCALE)


@cache
def translations(locale: str) -> NullTranslations:
    """Return the translations of ``locale``, compiled in memory from its .po file."""
    po_path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == DEFAULT_LOCALE or not po_path.is_file():
        return NullTranslations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def normalise(tag: str | None) -> str | None:
    """Map a language tag such as ``zh-CN``, ``zh`` or ``en-US`` to a supported locale."""
    if not tag:
        return None
    tag = tag.strip().replace("-", "_")
    if tag in LOCALES:
        return tag
    lang = tag.split("_")[0].lower()
    if lang == "zh":
        return "zh_CN"
    if lang == "en":
        return "en"
    return None


def negotiate(accept_language: str | None) -> str | None:
    """Pick the best supported locale from an Accept-Language header, or None."""
    if not accept_language:
        return None
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        bits = part.strip().split(";q=")
        try:
            q = float(bits[1]) if len(bits) > 1 else 1.0
        except ValueError:
            q = 0.0
        weighted.append((-q, index, bits[0]))
    for _q, _i, tag in sorted(weighted):
        found = normalise(tag)
        if found:
            return found
    return None


def set_locale(locale: str) -> None:
    """Set the locale of the current request or job."""
    _current.set(normalise(locale) or DEFAULT_LOCALE)


def get_locale() -> str:
    """Return the locale of the current request or job."""
    return _current.get()


def gettext(message: str) -> str:
    """Translate ``message`` into the current locale."""
    return translations(get_locale()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate a message with a plural form into the current locale."""
    return translations(get_locale()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now."""
    return message


_ = gettext
