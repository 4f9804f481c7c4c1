"""
Write docs/parameters.md from the settings model: one table per model.

    python -m artbot_bridge.paramdoc            # print the page
    python -m artbot_bridge.paramdoc --write    # rewrite docs/parameters.md of this checkout
    python -m artbot_bridge.paramdoc --check    # exit 1 when docs/parameters.md is stale

Each table lists a model's fields as the ROS parameters they are: name, ROS type, default,
range and the field's own description. Settings that are not ROS parameters
(`settings.NOT_PARAMETERS`) are left out; the rows of the `status_sources` and `commands`
tables get a table each, with the row model read from the field's annotation. The test suite
renders the page again and fails when the file differs (test/test_docs.py).
"""

import sys
import typing
from typing import Any, Iterator, List, Optional, Sequence, Tuple, Type

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .core.settings import NOT_PARAMETERS, Settings
from .generated import Generated, main as generated_main

GENERATED = Generated('artbot_bridge.paramdoc', 'parameters.md', lambda: render())
COMMAND = GENERATED.command
_ROS_TYPES = {bool: 'bool', int: 'integer', float: 'double', str: 'string'}
_MIB = 1024 * 1024

HEADER = f"""\
# Parameters

<!-- Generated from the models in artbot_bridge/core/ by `{COMMAND}`. -->

This page is generated from the settings model, so it lists every parameter the bridge
declares. Regenerate it with `{COMMAND}` (or
`python -m artbot_bridge.paramdoc > docs/parameters.md`) after a change to a field.
How parameters are read and checked, what the environment overrides, and notes that a
one-line description leaves out: [configuration.md](configuration.md).

Every parameter is read-only: `ros2 param describe /artbot_bridge <name>` shows its
description and range. A range is inclusive; an integer is accepted where a double is
expected.
"""


def _plain(annotation: Any) -> Any:
    """Return `annotation` without Optional: `Optional[float]` is `float`."""
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if typing.get_origin(annotation) is typing.Union and len(args) == 1:
        return args[0]
    return annotation


def ros_type(annotation: Any) -> str:
    """Return the ROS parameter type a field is declared with (`double`, `string[]`, ...)."""
    annotation = _plain(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return ros_type(type(typing.get_args(annotation)[0]))
    if typing.get_origin(annotation) in (tuple, list):
        item = typing.get_args(annotation)[0]
        # A row of pairs or triples is written as one string each ('key=field.path').
        return 'string[]' if typing.get_origin(item) in (tuple, list) else ros_type(item) + '[]'
    return _ROS_TYPES.get(annotation, getattr(annotation, '__name__', str(annotation)))


def _value(value: Any) -> str:
    """Return a default as a parameters file would give it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) and value >= _MIB and value % _MIB == 0:
        return f'{value} ({value // _MIB} MiB)'
    if isinstance(value, (tuple, list)):
        items = ['='.join(item) if isinstance(item, (tuple, list)) else str(item)
                 for item in value]
        return '[' + ', '.join(items) + ']'
    if value == '':
        return "''"
    return str(value)


def default(info: FieldInfo) -> str:
    """Return the field's default for a table cell: `30.0`, `''`, or required."""
    if info.is_required():
        return '(required)'
    value = info.get_default(call_default_factory=True)
    return '(unset)' if value is None else f'`{_value(value)}`'


def value_range(info: FieldInfo) -> str:
    """Return the values the field accepts, from its constraints: `0.1 to 3600.0`, ..."""
    found = {}
    for item in info.metadata:
        for key in ('ge', 'gt', 'le', 'lt', 'min_length', 'max_length', 'pattern'):
            if getattr(item, key, None) is not None:
                found[key] = getattr(item, key)
    literal = _plain(info.annotation)
    if typing.get_origin(literal) is typing.Literal:
        return ', '.join(f'`{_value(choice)}`' for choice in typing.get_args(literal))
    parts = []
    low = ('ge', found['ge']) if 'ge' in found else ('gt', found.get('gt'))
    high = ('le', found['le']) if 'le' in found else ('lt', found.get('lt'))
    if low[1] is not None and high[1] is not None and low[0] == 'ge' and high[0] == 'le':
        parts.append(f'{low[1]} to {high[1]}')
    else:
        words = {'ge': 'at least', 'gt': 'over', 'le': 'at most', 'lt': 'under'}
        parts += [f'{words[kind]} {bound}' for kind, bound in (low, high) if bound is not None]
    pattern = found.get('pattern')
    if pattern and pattern.startswith('^(') and pattern.endswith(')$'):
        parts.append(', '.join(f'`{_value(word)}`' for word in pattern[2:-2].split('|')))
    elif pattern:
        parts.append(f'matches `{pattern}`')
    if 'min_length' in found:
        count = found['min_length']
        parts.append(f'at least {count} character{"s" if count != 1 else ""}')
    if 'max_length' in found:
        parts.append(f'at most {found["max_length"]} characters')
    return '; '.join(parts)


def _cell(text: str) -> str:
    return text.replace('|', '\\|').replace('\n', ' ')


def table(fields: Sequence[Tuple[str, FieldInfo]]) -> List[str]:
    """Return the Markdown lines of one table: name, type, default, range, description."""
    lines = ['| name | type | default | range | description |',
             '| --- | --- | --- | --- | --- |']
    for name, info in fields:
        lines.append('| ' + ' | '.join(_cell(cell) for cell in (
            f'`{name}`', ros_type(info.annotation), default(info), value_range(info),
            info.description or '')) + ' |')
    return lines


def row_tables(model: Type[BaseModel] = Settings) -> Iterator[Tuple[str, Type[BaseModel]]]:
    """Yield (table name, row model) for each field that is a table of rows (a tuple of models)."""
    for name, info in model.model_fields.items():
        if typing.get_origin(info.annotation) in (tuple, list):
            item = typing.get_args(info.annotation)[0]
            if isinstance(item, type) and issubclass(item, BaseModel):
                yield name, item


def render() -> str:
    """Return the whole page, as docs/parameters.md holds it."""
    tables = dict(row_tables())
    top = [(name, info) for name, info in Settings.model_fields.items()
           if name not in NOT_PARAMETERS and name not in tables]
    lines = [HEADER, '## The node', '',
             'One parameter each; the two tables of rows follow.', '']
    lines += table(top)
    for name, model in tables.items():
        doc = (model.__doc__ or '').strip().splitlines()[0]
        title = name.replace('_', ' ').capitalize()
        lines += ['', f'## {title}', '', f'{doc} The `{name}` parameter lists the names of '
                  f'the rows; each row `<name>` has these parameters, as '
                  f'`<name>.<parameter>` (`{model.__name__}`).', '']
        lines += table([(field, info) for field, info in model.model_fields.items()
                        if field != 'name'])
    return '\n'.join(lines) + '\n'


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the page, write docs/parameters.md with --write, or check it with --check."""
    return generated_main(GENERATED, __doc__.strip().splitlines()[0], argv)


if __name__ == '__main__':
    sys.exit(main())
