"""The request bodies the real hub's routes accept (routers/agents.py, routers/robots.py)."""

from typing import Any, Dict, List, Tuple


def _field_errors(body: Any, fields: List[Tuple[str, type, bool]]) -> List[Dict[str, Any]]:
    """Return FastAPI-style 422 details for a JSON body against (name, type, required)."""
    if not isinstance(body, dict):
        return [{'type': 'model_attributes_type', 'loc': ['body'],
                 'msg': 'Input should be a valid dictionary or object to extract fields from'}]
    errors = []
    for name, kind, required in fields:
        if name not in body:
            if required:
                errors.append({'type': 'missing', 'loc': ['body', name], 'msg': 'Field required'})
        elif not isinstance(body[name], kind):  # pydantic 2 does not turn a number into a str
            code, word = ('string', 'string') if kind is str else ('dict', 'dictionary')
            errors.append({'type': f'{code}_type', 'loc': ['body', name],
                           'msg': f'Input should be a valid {word}'})
    return errors


def registration_errors(body: Any) -> List[Dict[str, Any]]:
    """Return why AgentRegistration refuses a body (422), or [] (routers/agents.py)."""
    return _field_errors(body, [('agent_id', str, True), ('hostname', str, True),
                                ('ip_address', str, True), ('system_info', dict, True),
                                ('robot_info', dict, False)])


def command_errors(body: Any) -> List[Dict[str, Any]]:
    """Return why RobotCommand refuses a body (422), or [] (routers/robots.py)."""
    return _field_errors(body, [('action', str, True), ('parameters', dict, False)])
