"""Content-Disposition for any file name: one latin-1 line, and filename* gives the name back."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from cloudnexus.storage.disposition import ascii_fallback, content_disposition

HEADER = re.compile(r"(attachment|inline); "
                    r'filename="([^"\\]*)"; '
                    r"filename\*=UTF-8''([A-Za-z0-9!#$&+\-.^_`|~%]+)")  # RFC 8187 attr-chars

NAMES = [
    "report.pdf",
    'say "hi".txt',
    "evil\r\nSet-Cookie: session=1.txt",
    "a;b=c; filename=other.exe",
    "back\\slash.txt",
    "100% done.txt",
    "résumé.pdf",
    "日本語のファイル.txt",
    "😀 party 🎉.png",
    "\u202etxt.exe",  # RIGHT-TO-LEFT OVERRIDE: shows as "exe.txt"
    "שלום.docx",
    "tab\there\x00nul\x7fdel.bin",
    "   ",
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("attachment", [True, False])
def test_header_is_safe_and_round_trips(name: str, attachment: bool) -> None:
    header = content_disposition(name, attachment=attachment)
    header.encode("latin-1")  # what an HTTP header value must be
    assert "\r" not in header and "\n" not in header and header.isprintable()
    match = HEADER.fullmatch(header)
    assert match, header
    assert match[1] == ("attachment" if attachment else "inline")
    assert match[2] and match[2].isascii() and match[2].isprintable()
    assert unquote(match[3], errors="strict") == name


@pytest.mark.parametrize(("name", "fallback"), [
    ("résumé.pdf", "resume.pdf"),
    ('say "hi".txt', "say _hi_.txt"),
    ("a;b.txt", "a_b.txt"),
    ("evil\r\nx.txt", "evil__x.txt"),
    ("日本.txt", "__.txt"),
    ("日本", "download"),
    ("", "download"),
])
def test_ascii_fallback(name: str, fallback: str) -> None:
    assert ascii_fallback(name) == fallback


def test_header_accepted_by_starlette() -> None:
    from starlette.responses import Response

    response = Response(headers={"Content-Disposition": content_disposition("日本\r\n😀.txt")})
    assert b"\r" not in dict(response.raw_headers)[b"content-disposition"]


def test_empty_and_unencodable_names_still_make_a_header() -> None:
    assert content_disposition("") == "attachment; filename=\"download\"; filename*=UTF-8''download"
    header = content_disposition("lone \udc80 surrogate.txt")
    header.encode("latin-1")
    assert HEADER.fullmatch(header)
