"""
Error text fit for a log line and `last_error`: one short line, never a page, never a secret.

A hub behind nginx answers a failed registration with a whole HTML page, and a misbehaving
one may echo the request's headers, the bearer token among them, in its error body. What the
bridge shows of any such text goes through here.
"""

import html
import json
import re
from typing import Sequence

MAX_BRIEF = 120  # characters of an error page shown: its title or its first words
MAX_ERROR = 300  # characters of a whole `last_error`
MAX_SCAN = 16 * 1024  # bytes of an error body looked at: the title and first words are there
# A credential in an echoed header or form: `Bearer x`, `Basic x`, `token=x`, "token": "x".
_CREDENTIAL = re.compile(
    r'(?i)(\b(?:bearer|basic)\s+|\b(?:access_token|token|password|passwd|secret|api[_-]?key)'
    r'["\']?\s*[:=]\s*["\']?)[^\s"\',;&<]+')
_TITLE = re.compile(r'<title[^<>]{0,200}>(.{0,1000}?)</title', re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r'<[^<>]{0,1000}>')
_CONTROL = re.compile(r'[\x00-\x1f\x7f-\x9f\u2028\u2029]+')  # all that could break a line


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """Return `text` with each of `secrets`, and anything that looks like a credential, as ***."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, '***')
    return _CREDENTIAL.sub(r'\1***', text)


def clip(text: str, limit: int = MAX_ERROR, secrets: Sequence[str] = ()) -> str:
    """Return `text` as one line of at most `limit` characters, its secrets hidden."""
    text = redact(_CONTROL.sub(' ', text), secrets)
    return text if len(text) <= limit else f'{text[:limit - 3]}...'


def brief(body: bytes, secrets: Sequence[str] = ()) -> str:
    """Return an HTTP error body as a few words: its <title>, a JSON `detail`, or its start."""
    text = redact(body[:MAX_SCAN].decode('utf-8', 'replace'), secrets)
    title = _TITLE.search(text)
    if title:
        text = title.group(1)
    else:
        text = _detail(text) or _TAG.sub(' ', text)
    text = ''.join(c if c.isprintable() or c.isspace() else '?' for c in html.unescape(text))
    return clip(' '.join(text.split()), MAX_BRIEF, secrets)


def _detail(text: str) -> str:
    """Return the message of a JSON error body (FastAPI's `detail`), else ''."""
    if not text.lstrip().startswith('{'):
        return ''
    try:
        answer = json.loads(text)
    except (ValueError, RecursionError):
        return ''
    if not isinstance(answer, dict):
        return ''
    words = [answer.get(key) for key in ('detail', 'message', 'error')]
    return next((w for w in words if isinstance(w, str)), '')
