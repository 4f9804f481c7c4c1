"""The message models: the committed schema is current, and their keys are the real hub's."""

import json
from typing import Annotated, Union

from artbot_bridge import schema
from artbot_bridge.core.messages import Heartbeat, record_keys, RobotStatus, SEQ_KEY
from artbot_bridge.core.messages import HEARTBEAT_KEYS, HEARTBEAT_NUMBERS, HUB_KEYS, OUTBOUND
from artbot_bridge.core.messages import STATUS_NUMBERS
from artbot_bridge.core.protocol import command_response, encode
from artbot_bridge.devhub import health, realhub
from artbot_bridge.generated import stale
from pydantic import Field, TypeAdapter


def test_the_schema_is_generated_from_the_current_models() -> None:
    why = stale(schema.GENERATED)
    assert not why, why


def test_the_schema_has_every_message_both_ways() -> None:
    document = json.loads(schema.render())
    directions = {part['title']: [ref['$ref'].rsplit('/', 1)[1] for ref in part['anyOf']]
                  for part in document['anyOf']}
    assert directions == {'agent to hub': [model.__name__ for model in OUTBOUND],
                          'hub to agent': ['Command']}
    heartbeat = document['$defs']['Heartbeat']['properties']
    assert all(heartbeat[key]['x-hub-computes'] for key in HEARTBEAT_NUMBERS)
    assert not any('null' in json.dumps(prop) for prop in heartbeat.values() if
                   prop.get('type') != 'array')  # a key is left out when unknown


# -- conformance: the models against the local hub's copy of the real hub's code -------------

def test_the_heartbeat_models_hub_keys_are_the_hubs_own_list() -> None:
    """robot_manager.update_agent_heartbeat: the nine keys, in its order, and their names."""
    assert HEARTBEAT_KEYS == health.HEARTBEAT_KEYS
    for key, record_key in record_keys(Heartbeat).items():
        assert record_key in health.heartbeat_update({key: 1}), key
    everything = dict.fromkeys(Heartbeat.model_fields, 1)
    copied = health.heartbeat_update(everything)
    assert set(copied) == set(record_keys(Heartbeat).values()) | {'current_action'}


def test_the_keys_the_hub_computes_with_are_its_health_keys() -> None:
    """health_monitoring._calculate_health_score reads these after every message."""
    assert STATUS_NUMBERS == set(health.HEALTH_KEYS)
    renamed = record_keys(Heartbeat)
    assert {renamed[key] for key in HEARTBEAT_NUMBERS} == \
        set(health.HEALTH_KEYS) & set(renamed.values())


def test_the_robot_records_keys_are_hub_keys() -> None:
    """robot_manager.register_agent: a stream source may not be named like one of them."""
    record = realhub.probe().state.robots[realhub.PROBE_ID]
    assert set(record) <= HUB_KEYS, sorted(set(record) - HUB_KEYS)
    assert set(RobotStatus.model_fields) <= HUB_KEYS and SEQ_KEY in RobotStatus.model_fields


# -- the frames as sent parse as their models --------------------------------------------------

FRAME = TypeAdapter(Annotated[Union[OUTBOUND], Field(discriminator='type')])


def test_every_kind_of_frame_parses_as_its_model() -> None:
    frames = [
        encode('heartbeat', 'a', {'cpu_percent': 1.5, 'uptime': 3, 'is_docked': True}),
        encode('robot_status', 'a', {'status': 'online', 'sources': {}}, seq=4),
        encode('robot_status', 'a', {'imu': {'seq': 9, 'data': {'x': 1.0}}}),
        encode('log_entry', 'a', {'level': 'warn', 'message': 'm', 'logger': 'x'}, seq=5),
        command_response('a', 'c1', True, {'message': 'ok', 'result': None}),
    ]
    for frame in frames:
        parsed = FRAME.validate_json(frame)
        assert parsed.type == json.loads(frame)['type']
        assert realhub.frame_error(frame) is None
