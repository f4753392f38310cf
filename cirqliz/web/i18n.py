"""Translations: templates and messages are written in French; English comes from a .po file.

Catalogs are compiled in memory at start-up (no .mo files to build or commit).
"""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from litestar.connection import ASGIConnection

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
LANG_COOKIE = "lang"
TRANSLATIONS = Path(__file__).with_name("translations")


@lru_cache(maxsize=4)
def translations(lang: str) -> gettext.NullTranslations:
    """Translations for `lang` (French is the source language: identity).

    Every `translations/<lang>/*.po` file is merged (one file per area of the application).
    """
    files = sorted((TRANSLATIONS / lang).glob("*.po"))
    if lang == DEFAULT_LANGUAGE or not files:
        return gettext.NullTranslations()
    merged = None
    for po in files:
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        if merged is None:
            merged = catalog
        else:
            for message in catalog:
                if message.id:
                    merged[message.id] = message
    buffer = io.BytesIO()
    write_mo(buffer, merged)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def negotiate(connection: ASGIConnection) -> str:
    """The language of a request: ?lang=, then the cookie, then Accept-Language, then French."""
    asked = connection.query_params.get("lang") or connection.cookies.get(LANG_COOKIE)
    if asked in LANGUAGES:
        return asked
    header = connection.headers.get("accept-language", "")
    for part in header.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def gettext_for(lang: str):
    """The `_` function for a language."""
    return translations(lang).gettext
