"""One-click unsubscribe (RFC 8058, RFC 2369) and the preferences page: the links in every
non-transactional email. Public — no login: the token in the path is the credential
(delivery/unsubscribe.py: opaque, authenticated; a tampered or foreign one is a 404).

- `GET /v1/unsubscribe/{token}`: a small page naming the group, with a button; nothing changes (mail
  scanners fetch every URL in a message).
- `POST /v1/unsubscribe/{token}` with the form field `List-Unsubscribe=One-Click` (urlencoded, as the
  mailbox providers send it, or multipart): the customer leaves the group at once (idempotent).
- `GET /v1/preferences/{token}`: the customer's state in every group of that channel, as a form;
  `POST` the form to change them.

The pages are self-contained HTML (no external assets, every value escaped), answered with
`Cache-Control: no-store`, `X-Robots-Tag: noindex` and a Content-Security-Policy that allows nothing
but their own inline style and a form posted back to this server. Limits: the body limit of every
route; requests count against a per-tenant bucket of their own (`public:<tenant>`, the API's rate),
so recipients' clicks never eat the tenant's API budget; tokens that do not open share one bucket.
"""

from __future__ import annotations

import binascii
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Annotated, Any, Final
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse
from jinja2 import DictLoader, Environment

from api.deps import Resources, Uow, refuse_unknown_query
from api.request_context import bind_caller
from delivery.unsubscribe import (
    MAX_TOKEN_CHARS,
    ONE_CLICK_FIELD,
    ONE_CLICK_VALUE,
    InvalidUnsubscribeTokenError,
    UnsubscribeClaim,
    UnsubscribeLinks,
)
from domain.errors import BadRequestError, DependencyUnavailableError, PayloadTooLargeError
from services.subscriptions import SubscriptionState
from services.unsubscribe import Preferences, UnsubscribeService, links_from_settings

router = APIRouter(prefix="/v1", tags=["unsubscribe"])

PUBLIC_PATHS: Final = frozenset({"/v1/unsubscribe/{token}", "/v1/preferences/{token}"})
MAX_FORM_BYTES: Final = 64 * 1024
MAX_FORM_FIELDS: Final = 1000
UNKNOWN_LINK_BUCKET: Final = "public:unknown-link"
FORM_TYPES: Final = ("application/x-www-form-urlencoded", "multipart/form-data")
PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
}


def _links(request: Request, res: Resources) -> UnsubscribeLinks:
    """Built once per app from its settings (the key derivation is not repeated per request)."""
    links: UnsubscribeLinks | None = getattr(request.app.state, "unsubscribe_links", None)
    if links is None:
        try:
            links = links_from_settings(res.settings)
        except RuntimeError as error:  # JOURNEYS_UNSUBSCRIBE_SECRET unset outside dev mode
            raise DependencyUnavailableError("unsubscribe links", str(error)) from None
        request.app.state.unsubscribe_links = links
    return links


async def link_claim(
    request: Request,
    res: Resources,
    token: Annotated[
        str,
        Path(description=f"The opaque token of an email's link (at most {MAX_TOKEN_CHARS} characters)"),
    ],
) -> UnsubscribeClaim:
    """Whose subscription the link names; a token that does not open is a 404 (nothing is said why)."""
    refuse_unknown_query(request)
    try:
        claim = _links(request, res).read(token)
    except InvalidUnsubscribeTokenError:
        res.limiter.acquire(UNKNOWN_LINK_BUCKET)
        raise
    bind_caller(claim.tenant_id, {})
    res.limiter.acquire(f"public:{claim.tenant_id}")
    return claim


Claim = Annotated[UnsubscribeClaim, Depends(link_claim)]

_ONE_CLICK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [ONE_CLICK_FIELD],
    "properties": {ONE_CLICK_FIELD: {"type": "string", "enum": [ONE_CLICK_VALUE]}},
}
_PREFERENCES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "group": {
            "type": "array",
            "items": {"type": "string", "format": "uuid"},
            "description": "Every group the page listed (a group not listed is left alone)",
        },
        "subscribed": {
            "type": "array",
            "items": {"type": "string", "format": "uuid"},
            "description": "The listed groups the customer keeps or joins; the others they leave",
        },
    },
}


def _form_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {media: {"schema": schema} for media in FORM_TYPES},
        }
    }


_HTML: Final[dict[int | str, dict[str, Any]]] = {
    200: {"description": "A small HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}
}
_NOT_FOUND = "A tampered, cut or foreign token (`unknown unsubscribe link`), or its group was deleted"
_LIMITED: Final[dict[int | str, dict[str, Any]]] = {
    429: {"description": "Too many link requests for this tenant (their own bucket, at the API's rate)"}
}


@router.get(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    responses={**_HTML, **_LIMITED, 404: {"description": _NOT_FOUND}},
    summary="The unsubscribe page (public)",
)
async def unsubscribe_page(claim: Claim, uow: Uow, request: Request) -> HTMLResponse:
    """Public (the link's token is the credential). A page naming the subscription group, with a button
    that posts the one-click form; the customer's state does not change (link scanners fetch URLs)."""
    state = await UnsubscribeService(uow).state(claim)
    return _page("unsubscribe.html", request, state=state)


@router.post(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    responses={
        **_HTML,
        **_LIMITED,
        400: {"description": f"The body is not a form with `{ONE_CLICK_FIELD}={ONE_CLICK_VALUE}`"},
        404: {"description": _NOT_FOUND},
    },
    openapi_extra=_form_body(_ONE_CLICK_SCHEMA),
    summary="One-click unsubscribe, RFC 8058 (public)",
)
async def unsubscribe_one_click(claim: Claim, uow: Uow, request: Request) -> HTMLResponse:
    """Public. The RFC 8058 one-click POST (`List-Unsubscribe=One-Click`, urlencoded or multipart, as
    mailbox providers send it, or the page's button): the customer leaves the group at once, with
    source `unsubscribe_link`. Idempotent: 200 again, the first change keeps its time."""
    fields = await _form(request)
    if fields.get(ONE_CLICK_FIELD, [""])[-1] != ONE_CLICK_VALUE:
        raise BadRequestError(
            f"body.{ONE_CLICK_FIELD}: the form field {ONE_CLICK_FIELD} must be {ONE_CLICK_VALUE!r} (RFC 8058)"
        )
    state = await UnsubscribeService(uow).unsubscribe(claim)
    return _page("unsubscribed.html", request, state=state)


@router.get(
    "/preferences/{token}",
    response_class=HTMLResponse,
    responses={**_HTML, **_LIMITED, 404: {"description": _NOT_FOUND}},
    summary="The subscription preferences page (public)",
)
async def preferences_page(claim: Claim, uow: Uow, request: Request) -> HTMLResponse:
    """Public. The customer's state in every subscription group of the link's channel, as a form that
    posts back here."""
    preferences = await UnsubscribeService(uow).preferences(claim)
    return _page("preferences.html", request, preferences=preferences)


@router.post(
    "/preferences/{token}",
    response_class=HTMLResponse,
    responses={
        **_HTML,
        **_LIMITED,
        400: {"description": "The body is not a form"},
        404: {"description": _NOT_FOUND},
    },
    openapi_extra=_form_body(_PREFERENCES_SCHEMA),
    summary="Save subscription preferences (public)",
)
async def save_preferences(claim: Claim, uow: Uow, request: Request) -> HTMLResponse:
    """Public. The preferences form: each listed group (`group`) is joined when ticked (`subscribed`)
    and left when not, with source `preferences`; a group outside the page is a 422 naming the field.
    Answers the page again, saying it was saved."""
    fields = await _form(request)
    preferences = await UnsubscribeService(uow).set_preferences(
        claim, fields.get("group", []), fields.get("subscribed", [])
    )
    return _page("preferences.html", request, preferences=preferences, saved=True)


# ---- the form ------------------------------------------------------------------------------------


async def _form(request: Request) -> dict[str, list[str]]:
    """The form fields of the body (urlencoded, or multipart per RFC 8058; no content type: read as
    urlencoded). Another content type, undecodable text or a broken multipart body: 400."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise PayloadTooLargeError(f"a form here may be at most {MAX_FORM_BYTES} bytes")
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        if media in ("", FORM_TYPES[0]):
            pairs = parse_qsl(
                body.decode("utf-8"),
                keep_blank_values=True,
                strict_parsing=False,
                max_num_fields=MAX_FORM_FIELDS,
            )
        elif media == FORM_TYPES[1]:
            pairs = _multipart(content_type, body)
        else:
            raise BadRequestError(
                f"the body must be a form ({' or '.join(FORM_TYPES)}), not {media or 'empty'}"
            )
    except (UnicodeDecodeError, ValueError, binascii.Error) as error:
        raise BadRequestError(f"the form cannot be read: {error}") from None
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return fields


def _multipart(content_type: str, body: bytes) -> list[tuple[str, str]]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not isinstance(message, EmailMessage) or not message.is_multipart() or message.defects:
        raise ValueError("a multipart/form-data body with a boundary is expected")
    pairs: list[tuple[str, str]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ValueError("a form part has no name")
        payload = part.get_payload(decode=True)
        pairs.append((name, payload.decode("utf-8") if isinstance(payload, bytes) else ""))
        if len(pairs) > MAX_FORM_FIELDS:
            raise ValueError(f"more than {MAX_FORM_FIELDS} fields")
    return pairs


# ---- the pages -----------------------------------------------------------------------------------

_TEMPLATES: Final[dict[str, str]] = {
    "layout.html": """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{% block title %}{% endblock %}</title>
<style>
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;background:#f6f8fa;margin:0}
main{max-width:32rem;margin:3rem auto;padding:2rem;background:#fff;border:1px solid #d0d7de;border-radius:8px}
h1{font-size:1.4rem;margin-top:0}
button{font:inherit;padding:.5rem 1.2rem;border-radius:6px;border:1px solid #1f2328;background:#1f2328;
color:#fff;cursor:pointer}
ul{list-style:none;padding:0}li{padding:.4rem 0}.note{color:#57606a;font-size:.9rem}.saved{color:#1a7f37}
</style></head>
<body><main>{% block content %}{% endblock %}</main></body></html>
""",
    "unsubscribe.html": """{% extends "layout.html" %}
{% block title %}Unsubscribe{% endblock %}
{% block content %}
{% if state.subscribed %}
<h1>Unsubscribe from {{ state.group.name }}?</h1>
<p>You will no longer receive “{{ state.group.name }}” messages.</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button></form>
{% else %}
<h1>You are unsubscribed from {{ state.group.name }}</h1>
<p>You do not receive “{{ state.group.name }}” messages.</p>
{% endif %}
<p class="note"><a href="{{ preferences_href }}">Manage all your subscriptions</a></p>
{% endblock %}
""",
    "unsubscribed.html": """{% extends "layout.html" %}
{% block title %}Unsubscribed{% endblock %}
{% block content %}
<h1>You are unsubscribed</h1>
<p>You will no longer receive “{{ state.group.name }}” messages.</p>
<p class="note"><a href="{{ preferences_href }}">Manage all your subscriptions</a></p>
{% endblock %}
""",
    "preferences.html": """{% extends "layout.html" %}
{% block title %}Your subscriptions{% endblock %}
{% block content %}
<h1>Your subscriptions</h1>
{% if saved %}<p class="saved" role="status">Your preferences are saved.</p>{% endif %}
<form method="post"><ul>
{% for state in preferences.states %}
<li><input type="hidden" name="group" value="{{ state.group.id }}">
<label><input type="checkbox" name="subscribed" value="{{ state.group.id }}"
{%- if state.subscribed %} checked{% endif %}> {{ state.group.name }}</label></li>
{% endfor %}
</ul><button type="submit">Save</button></form>
<p class="note">Ticked: you receive these messages. Untick to stop them.</p>
{% endblock %}
""",
}
# Autoescaped: group names are the tenant's text, shown to whoever holds a link.
_ENV: Final = Environment(loader=DictLoader(_TEMPLATES), autoescape=True, auto_reload=False)


def _page(
    template: str,
    request: Request,
    *,
    state: SubscriptionState | None = None,
    preferences: Preferences | None = None,
    saved: bool = False,
) -> HTMLResponse:
    token = request.path_params["token"]
    html = _ENV.get_template(template).render(
        state=state,
        preferences=preferences,
        saved=saved,
        # Relative, so it is right behind a proxy's path prefix too (the token is URL-safe base64).
        preferences_href=f"../preferences/{token}",
    )
    return HTMLResponse(html, headers=PAGE_HEADERS)
