"""The docs stay true: the generated parameter page is current, the README short, links whole."""

from pathlib import Path
import re
from typing import Iterator, List, Set, Tuple

from artbot_bridge import paramdoc
from artbot_bridge.generated import stale
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / 'README.md'
PAGES = [README, *sorted((ROOT / 'docs').glob('*.md'))]
MAX_README_LINES = 250
# [text](target) and ![alt](target), with an optional "title"; reference definitions too.
_INLINE = re.compile(r'!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
_REFERENCE = re.compile(r'^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$')
_EXTERNAL = re.compile(r'^[a-z][a-z0-9+.-]*:', re.IGNORECASE)  # http:, https:, mailto:, ...


def prose(text: str) -> Iterator[Tuple[int, str]]:
    """Yield (line number, line) of a Markdown text, leaving out fenced code blocks."""
    fence = ''
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        if fence:
            if stripped.startswith(fence):
                fence = ''
            continue
        if stripped.startswith(('```', '~~~')):
            fence = stripped[:3]
            continue
        yield number, re.sub(r'`[^`]*`', '', line)  # a link shown as code is no link


def links(text: str) -> Iterator[Tuple[int, str]]:
    """Yield (line number, target) of every link and image in a Markdown text."""
    for number, line in prose(text):
        for match in _INLINE.finditer(line):
            yield number, match.group(1)
        match = _REFERENCE.match(line)
        if match:
            yield number, match.group(1)


def anchors(text: str) -> Set[str]:
    """Return the anchors GitHub gives the headings of a Markdown text."""
    found: Set[str] = set()
    for _, line in prose(text.replace('`', '')):
        match = re.match(r'^#{1,6}\s+(.*?)\s*#*\s*$', line)
        if not match:
            continue
        slug = re.sub(r'[^\w\- ]', '', match.group(1).strip().lower()).replace(' ', '-')
        anchor, count = slug, 1
        while anchor in found:  # a repeated heading gets -1, -2, ...
            anchor, count = f'{slug}-{count}', count + 1
        found.add(anchor)
    return found


def broken_links(page: Path, root: Path = ROOT) -> List[str]:
    """Return the relative links of `page` whose file, or heading, does not exist."""
    broken = []
    for number, target in links(page.read_text()):
        if _EXTERNAL.match(target):
            continue
        path, _, fragment = target.partition('#')
        found = (page.parent / path).resolve() if path else page
        where = f'{page.relative_to(root)}:{number}: {target}'
        if not found.exists():
            broken.append(f'{where} (no such file)')
        elif fragment and found.suffix == '.md' and fragment not in anchors(found.read_text()):
            broken.append(f'{where} (no such heading in {found.name})')
    return broken


def test_the_parameter_page_is_generated_from_the_current_settings() -> None:
    why = stale(paramdoc.GENERATED)
    assert not why, why


def test_the_readme_is_short() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= MAX_README_LINES, (
        f'README.md has {lines} lines, more than {MAX_README_LINES}: move detail into docs/')


@pytest.mark.parametrize('page', PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file_that_exists(page: Path) -> None:
    broken = broken_links(page)
    assert not broken, 'broken links:\n' + '\n'.join(broken)


def test_the_link_check_sees_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / 'there.md').write_text('# A heading, with `code`\n')
    page = tmp_path / 'page.md'
    page.write_text('[ok](there.md) [ok](there.md#a-heading-with-code) [web](https://x.invalid)\n'
                    '![gone](gone.png) [bad](there.md#nowhere) `[code](gone.md)`\n'
                    '```\n[fenced](gone.md)\n```\n'
                    '[ref]: missing.md\n')
    found = [line.split(': ', 1)[1] for line in broken_links(page, tmp_path)]
    assert found == ['gone.png (no such file)',
                     'there.md#nowhere (no such heading in there.md)',
                     'missing.md (no such file)'], found
