"""
Write docs/protocol.schema.json: a JSON Schema of every message, both ways, from the models.

    python -m artbot_bridge.schema            # print the schema
    python -m artbot_bridge.schema --write    # rewrite docs/protocol.schema.json of this checkout
    python -m artbot_bridge.schema --check    # exit 1 when docs/protocol.schema.json is stale

Agent to hub: the four frames of `core.messages` as the bridge sends them. Hub to agent: the
command of `core.protocol` as the bridge reads it. The test suite renders the schema again and
fails when the file differs (test/test_messages.py).
"""

import json
import sys
from typing import Any, Dict, Optional, Sequence

from pydantic.json_schema import models_json_schema

from .core.messages import Heartbeat, LogEntry, numbers_of, OUTBOUND, RobotStatus
from .core.protocol import Command
from .generated import Generated, main as generated_main

GENERATED = Generated('artbot_bridge.schema', 'protocol.schema.json', lambda: render())
COMMAND = GENERATED.command


def _as_sent(definition: Dict[str, Any], model: Any) -> None:
    """
    Say of a data model's schema what `wire` makes of it.

    An unknown key is left out, so no key at the top is ever null; `x-hub-computes` marks the
    keys the hub's health score reads, where a null or a non-number kills its reader.
    """
    computes = numbers_of(model)
    properties = definition.get('properties', {})
    for name, prop in properties.items():
        options = [o for o in prop.pop('anyOf', ()) if o != {'type': 'null'}]
        if len(options) == 1:
            prop.update(options[0])
        elif options:
            prop['anyOf'] = options
        if prop.get('default', 0) is None:
            del prop['default']
        if name in computes:
            prop['x-hub-computes'] = True
        properties[name] = dict(sorted(prop.items()))  # pydantic's own order: by key


def schema() -> Dict[str, Any]:
    """Return the schema: one definition per message, grouped by direction."""
    models = [(model, 'serialization') for model in OUTBOUND] + [(Command, 'validation')]
    refs, document = models_json_schema(models, ref_template='#/$defs/{model}')
    for model in (Heartbeat, RobotStatus, LogEntry):
        _as_sent(document['$defs'][model.__name__], model)

    def one_of(*kinds: Any) -> Dict[str, Any]:
        return {'anyOf': [refs[kind] for kind in kinds]}

    description = ('Generated from artbot_bridge/core/messages.py and protocol.py by `'
                   + COMMAND + '`. Every message is one JSON object in one text frame. '
                   'The hub copies only the heartbeat keys marked x-hub-record (under '
                   'that name) and merges robot_status into its robot record as it is; '
                   'a null or a non-number under a key marked x-hub-computes kills its '
                   'reader, so those keys are left out when unknown.')
    outbound = one_of(*((model, 'serialization') for model in OUTBOUND))
    inbound = one_of((Command, 'validation'))
    return {
        '$schema': 'https://json-schema.org/draft/2020-12/schema',
        'title': 'The Artbot Control Hub protocol, as artbot_bridge speaks it',
        'description': description,
        'anyOf': [{'title': 'agent to hub', **outbound}, {'title': 'hub to agent', **inbound}],
        '$defs': document['$defs'],
    }


def render() -> str:
    """Return the schema as the file holds it."""
    return json.dumps(schema(), indent=2, ensure_ascii=False) + '\n'


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the schema, write docs/protocol.schema.json with --write, or check it (--check)."""
    return generated_main(GENERATED, __doc__.strip().splitlines()[0], argv)


if __name__ == '__main__':
    sys.exit(main())
