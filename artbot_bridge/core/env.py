"""The environment's say in the settings: the variables the original agent read, and .env."""

import os
from typing import Dict, Mapping, Tuple

# Environment variables the original agent read, and the setting each one overrides.
ENV_OVERRIDES = {
    'HUB_URL': 'hub_url',
    'AGENT_ID': 'agent_id',
    'HEARTBEAT_INTERVAL': 'heartbeat_interval',
    'MONITOR_INTERVAL': 'monitor_interval',
    'HUB_TOKEN': 'hub_token',
}


def read_env_file(path: str) -> Dict[str, str]:
    """Read KEY=value lines (comments, blank lines, `export` and quotes allowed)."""
    values: Dict[str, str] = {}
    if not path or not os.path.isfile(path):
        return values
    with open(path, encoding='utf-8') as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith('#') or '=' not in line:
                continue
            key, _, value = line.removeprefix('export ').partition('=')
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in '\'"':
                value = value[1:-1]
            values[key.strip()] = value
    return values


def env_overrides(environ: Mapping[str, str], env_file: str) -> Dict[str, Tuple[str, str]]:
    """Return {setting: (value, origin)} from the .env file, then the environment over it."""
    found: Dict[str, Tuple[str, str]] = {}
    file_values = read_env_file(env_file)
    for origin, source in ((f'{env_file} {{}}', file_values), ('env {}', environ)):
        for var, setting in ENV_OVERRIDES.items():
            if source.get(var, '').strip():
                found[setting] = (source[var].strip(), origin.format(var))
    return found
