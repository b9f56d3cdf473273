"""Link previewers: chat apps, mail scanners and social sites that fetch a shared link to show
a card. They get a small page naming the file instead of its bytes, and do not use up a
download (the list is documented in docs/security.md, "Share links")."""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse

# Lower-case parts of their User-Agent headers. A client that pretends to be one gains
# nothing: it is shown the page, never the bytes.
PREVIEW_AGENTS = (
    "slackbot", "slack-imgproxy", "twitterbot", "facebookexternalhit", "facebot",
    "discordbot", "telegrambot", "whatsapp", "linkedinbot", "skypeuripreview",
    "microsoftpreview", "bingpreview", "googlebot", "applebot", "mattermost", "iframely",
    "embedly", "pinterestbot", "redditbot", "vkshare", "zoominfobot",
)


def is_previewer(request: Request) -> bool:
    """A HEAD request, or a GET from a known link previewer."""
    agent = request.headers.get("user-agent", "").lower()
    return request.method == "HEAD" or any(name in agent for name in PREVIEW_AGENTS)


def preview_page(file_name: str) -> HTMLResponse:
    """A page naming the shared file, without its bytes."""
    name = html.escape(file_name)
    body = (f'<!doctype html><html><head><meta charset="utf-8"><title>{name}</title>'
            f'<meta property="og:title" content="{name}"><meta name="robots" content="noindex">'
            f"</head><body><p>{name}: a shared file. Open the link in a browser to download "
            "it.</p></body></html>")
    return HTMLResponse(body, headers={"Cache-Control": "no-store",
                                       "Content-Security-Policy": "default-src 'none'"})
