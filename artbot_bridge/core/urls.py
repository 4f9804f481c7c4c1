"""
The hub's address as given (`hub_url`): checked once, and never printed with its secrets.

A password, a token in the query or a fragment is shown as ***; a host name the DNS cannot
resolve, a space, a control character or a character that is not ASCII is refused with the
reason.
"""

import re
from urllib.parse import urlsplit

# RFC 3986's split of a URL: it always matches, so that any value can be shown redacted.
_URL_PARTS = re.compile(r'^([^:/?#]*:)?(//[^/?#]*)?([^?#]*)(\?[^#]*)?(#.*)?$', re.DOTALL)


def shown(url: str) -> str:
    """Return `url` for a message: its user name and password, query values and fragment ***."""
    scheme, authority, path, query, fragment = _URL_PARTS.match(url).groups(default='')
    if '@' in authority:
        authority = f'//***@{authority.rpartition("@")[2]}'
    if query:
        query = '?' + '&'.join(f'{pair.partition("=")[0]}=***' if '=' in pair else '***'
                               for pair in query[1:].split('&'))
    return f'{scheme}{authority}{path}{query}{"#***" if fragment else ""}'


def _host_problem(host: str) -> str:
    """Return why the DNS cannot resolve `host` (a name over its limits), or ''."""
    if ':' in host:  # an IPv6 address
        return ''
    name = host[:-1] if host.endswith('.') else host
    if len(name) > 253:
        return f'a host name of {len(name)} characters (at most 253)'
    label = next((label for label in name.split('.') if not label or len(label) > 63), None)
    if label is None:
        return ''
    if not label:
        return 'an empty host name label (two dots in a row?)'
    return f'a host name label of {len(label)} characters (at most 63)'


def check_hub_url(value: str) -> str:
    """Return `hub_url` checked and without its trailing slash; ValueError says what is wrong."""
    value = value.strip()
    shown_url = shown(value)  # a password or a token in the query is never printed
    odd = next((c for c in value if not '\x21' <= c <= '\x7e'), '')
    if odd > '\x7f':
        raise ValueError(f'a character that is not ASCII ({odd!r}) in {shown_url!r}; '
                         'percent-encode it, and give a host name in punycode')
    if odd:
        raise ValueError(f'a space or a control character ({odd!r}) in {shown_url!r}; '
                         'percent-encode it')
    parts = urlsplit(value)
    if parts.scheme not in ('http', 'https', 'ws', 'wss') or not parts.hostname:
        raise ValueError(f'expected http(s)://host:port or ws(s)://host:port/..., got '
                         f'{shown_url!r}')
    try:
        parts.port
    except ValueError:
        raise ValueError(f'bad port in {shown_url!r}') from None
    unused = ' and '.join(what for what, there in (
        ('a user name or password', '@' in parts.netloc), ('a query', bool(parts.query)),
        ('a fragment', bool(parts.fragment))) if there)
    if unused:
        raise ValueError(f'{shown_url!r} has {unused}, which the bridge does not use; give '
                         'scheme://host:port[/path]')
    problem = _host_problem(parts.hostname)
    if problem:
        raise ValueError(f'{problem}: the DNS cannot resolve it')
    return value.rstrip('/')
