"""
A file of docs/ generated from the code: printed, rewritten with --write, checked with --check.

`paramdoc` (docs/parameters.md) and `schema` (docs/protocol.schema.json) each give a
`Generated` and call `main`; the test suite calls `stale` so that a change to the code that
forgets its page fails, with the diff and the command that mends it.
"""

import argparse
import difflib
from pathlib import Path
import sys
from typing import Callable, NamedTuple, Optional, Sequence

DOCS = Path(__file__).resolve().parent.parent / 'docs'
DIFF_LINES = 40  # lines of the diff a stale file's message shows


class Generated(NamedTuple):
    """A file under docs/ and the module whose `render()` writes it."""

    module: str  # e.g. 'artbot_bridge.schema', run with python -m
    name: str  # the file's name under docs/
    render: Callable[[], str]

    @property
    def path(self) -> Path:
        """Return the file in this checkout."""
        return DOCS / self.name

    @property
    def command(self) -> str:
        """Return the command that rewrites the file."""
        return f'python -m {self.module} --write'


def stale(page: Generated) -> str:
    """Return '' when the file holds what its module renders, else why not, with the diff."""
    written = page.path.read_text() if page.path.exists() else ''
    rendered = page.render()
    if written == rendered:
        return ''
    diff = difflib.unified_diff(written.splitlines(True), rendered.splitlines(True),
                                f'docs/{page.name}', 'generated')
    return (f'docs/{page.name} is stale; regenerate it with `{page.command}`\n'
            + ''.join(list(diff)[:DIFF_LINES]))


def main(page: Generated, description: str, argv: Optional[Sequence[str]] = None) -> int:
    """Print the file, write it with --write, or exit 1 with --check when it is stale."""
    parser = argparse.ArgumentParser(prog=f'python -m {page.module}', description=description)
    action = parser.add_mutually_exclusive_group()
    action.add_argument('--write', action='store_true', help=f'write docs/{page.name}')
    action.add_argument('--check', action='store_true',
                        help=f'exit 1 when docs/{page.name} differs from what would be written')
    args = parser.parse_args(argv)
    if (args.write or args.check) and not DOCS.is_dir():  # an installed package has no docs/
        parser.error(f'no {DOCS}: run this in a checkout, or redirect the printed file')
    if args.check:
        why = stale(page)
        print(why or f'docs/{page.name} is current', file=sys.stderr if why else sys.stdout)
        return 1 if why else 0
    text = page.render()
    if args.write:
        page.path.write_text(text)
        print(f'wrote {page.path}')
    else:
        sys.stdout.write(text)
    return 0
