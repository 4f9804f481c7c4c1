"""The bridge's settings: one frozen, validated object built once at start-up."""

import os
import re
import socket
import stat
from typing import List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import SecretStr
from pydantic import ValidationError, ValidationInfo

from .command_table import CommandSettings
from .env import env_overrides
from .sources import SourceSettings
from .urls import check_hub_url


class SettingsError(ValueError):
    """A setting has a bad value; the message names it and says why."""


# Settings that are not ROS parameters: a secret must never be readable with `ros2 param`.
NOT_PARAMETERS = ('hub_token', 'status_sources', 'commands')

_AGENT_ID = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')
_TOKEN = re.compile(r'^[\x21-\x7e]{1,4096}$')  # an HTTP header value: one line, no spaces
MAX_TOKEN_FILE = 64 * 1024  # a token file holds one line: a larger one is refused, not read
_FILE_KINDS = ((stat.S_ISDIR, 'a directory'), (stat.S_ISFIFO, 'a FIFO'),
               (stat.S_ISCHR, 'a device'), (stat.S_ISBLK, 'a device'),
               (stat.S_ISSOCK, 'a socket'))


def _read_token(path: str) -> str:
    """Return the token file's text; never blocks, never reads more than MAX_TOKEN_FILE."""
    try:  # O_NONBLOCK: a FIFO swapped in after the checks cannot hang start-up
        handle = os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), 'rb')
    except OSError as err:
        raise ValueError(f'cannot read hub_token_file {path!r} ({err.strerror})') from None
    with handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ValueError(f'hub_token_file {path!r} is not a regular file')
        data = handle.read(MAX_TOKEN_FILE + 1)
    if len(data) > MAX_TOKEN_FILE:
        raise ValueError(f'hub_token_file {path!r} is over {MAX_TOKEN_FILE // 1024} KiB')
    return data.decode('ascii', 'replace')


class Settings(BaseModel):
    """Everything the bridge needs to know, validated once, then read-only."""

    model_config = ConfigDict(frozen=True, extra='forbid')

    hub_url: str = Field(
        default='http://localhost:8000',
        description='hub address: http(s)://host:port, or ws(s)://.../ws/agent/<id> as given')
    agent_id: str = Field(
        default='', validate_default=True,
        description='agent id the hub knows this robot by (empty: the hostname)')
    heartbeat_interval: float = Field(
        default=30.0, ge=0.1, le=3600.0, description='seconds between heartbeats')
    monitor_interval: float = Field(
        default=10.0, ge=0.1, le=3600.0, description='seconds between robot_status messages')
    stale_after: float = Field(
        default=10.0, ge=0.1, le=3600.0,
        description='seconds without a message before a status source is reported stale')
    reconnect_initial_delay: float = Field(
        default=0.5, ge=0.05, le=60.0,
        description='first retry delay, and the least time between two connection attempts')
    reconnect_max_delay: float = Field(
        default=30.0, ge=0.1, le=3600.0, description='cap of the exponential retry delay')
    reconnect_reset_after: float = Field(
        default=10.0, ge=0.0, le=3600.0,
        description='a connection that lived this long resets the retry delay')
    open_timeout: float = Field(
        default=10.0, ge=0.1, le=300.0,
        description='seconds allowed for registration and for the WebSocket handshake')
    ping_interval: float = Field(
        default=20.0, ge=0.1, le=3600.0, description='seconds between keepalive pings')
    ping_timeout: float = Field(
        default=20.0, ge=0.1, le=3600.0,
        description='seconds to wait for a pong before the link is declared dead')
    close_timeout: float = Field(
        default=1.5, ge=0.1, le=60.0,
        description='seconds allowed for the whole clean close, the last delivery proof included')
    delivery_proof: str = Field(
        default='echo', pattern='^(echo|pong)$',
        description="what proves an answer delivered: echo (the hub's /ws/dashboard feed "
                    'broadcast it, so its application has it) or pong (its WebSocket library '
                    'read it: for a hub without that feed)')
    echo_timeout: float = Field(
        default=0.0, ge=0.0, le=3600.0,
        description="seconds a sent frame may wait for its echo before the hub's reader "
                    'counts as dead and the link is redialled (0: monitor_interval, at least '
                    '3 s)')
    max_link_age: float = Field(
        default=86400.0, ge=0.0, le=30 * 86400.0,
        description='seconds after which a link is closed cleanly and redialled at a quiet '
                    'moment (no command running), less up to a tenth at random, so that no '
                    'proxy in front of the hub is held for weeks (0: never)')
    max_message_size: int = Field(
        default=16 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024,
        description='largest inbound frame accepted, in bytes')
    env_file: str = Field(
        default='.env', description='file of KEY=value lines read like the environment')
    location: str = Field(
        default='', max_length=200,
        description="where the robot is, shown on the hub's card (empty: the hub's default)")
    tls_ca_file: str = Field(
        default='', description='CA bundle that signs the hub certificate (empty: system CAs)')
    tls_cert_file: str = Field(
        default='', description='client certificate for mutual TLS (PEM)')
    tls_key_file: str = Field(
        default='', description='private key of tls_cert_file (empty: inside the cert file)')
    hub_token_file: str = Field(
        default='', description='file holding the bearer token (else the HUB_TOKEN variable)')
    hub_token: SecretStr = Field(default=SecretStr(''), exclude=True)
    hub_log_level: str = Field(
        default='warn', pattern='^(debug|info|warn|error|fatal|none)$',
        description='/rosout lines at or above this level go to the hub (none: off)')
    executor: str = Field(
        default='auto', pattern='^(auto|events|single)$',
        description="the ROS executor: auto (rclpy's EventsExecutor where it has one, else "
                    'the SingleThreadedExecutor), events or single')
    log_rate: float = Field(
        default=5.0, ge=0.1, le=1000.0, description='log_entry messages per second, at most')
    feedback_interval: float = Field(
        default=0.5, ge=0.0, le=60.0,
        description='seconds between two action feedback lines sent to the hub')
    max_queued_responses: int = Field(
        default=1000, ge=10, le=1_000_000,
        description='command responses kept while the link is down (oldest dropped, counted)')
    max_queued_logs: int = Field(
        default=200, ge=0, le=100_000, description='log lines kept while the link is down')
    outbox_path: str = Field(
        default='', description='SQLite file keeping queued responses, log lines and answered '
                                'command ids across restarts (empty: memory only)')
    max_queued_stream: int = Field(
        default=1000, ge=0, le=1_000_000,
        description='stream frames kept while the link is busy or down (oldest dropped)')
    stream_max_age: float = Field(
        default=0.01, ge=0.0, le=3600.0,
        description='seconds a stream message may take to reach the hub (its wait here and the '
                    "hub's read backlog); older ones are dropped and counted (0: no bound)")
    max_queued_bytes: int = Field(
        default=8 * 1024 * 1024, ge=64 * 1024, le=1024 * 1024 * 1024,
        description='bytes of responses, log lines and stream frames kept while the link is down')
    max_commands_per_minute: int = Field(
        default=600, ge=1, le=1_000_000,
        description='commands accepted per minute; more are answered as refused')
    max_concurrent_commands: int = Field(
        default=32, ge=1, le=10_000, description='commands running at once, at most')
    max_response_bytes: int = Field(
        default=1024 * 1024, ge=1024, le=16 * 1024 * 1024,
        description='largest command_response; a larger result is replaced by a note')
    command_memory_age: float = Field(
        default=600.0, ge=600.0, le=86400.0,
        description='seconds an executed command id is remembered at least (a repeat is '
                    'answered, never run again), beyond the last 2048')
    safety_grace: float = Field(
        default=0.0, ge=0.0, le=3600.0,
        description='seconds without a hub link before the safety stop fires (0: off)')
    safety_stop_topic: str = Field(
        default='', description='geometry_msgs/Twist topic that gets a zero Twist on link loss')
    safety_stop_service: str = Field(
        default='', description='std_srvs/Trigger service called on link loss')
    status_sources: Tuple[SourceSettings, ...] = ()
    commands: Tuple[CommandSettings, ...] = ()

    @field_validator('hub_url')
    @classmethod
    def _check_url(cls, value: str) -> str:
        return check_hub_url(value)

    @field_validator('agent_id')
    @classmethod
    def _check_agent_id(cls, value: str) -> str:
        value = value.strip() or socket.gethostname()
        if not _AGENT_ID.match(value):
            raise ValueError(
                f'{value!r} is not a valid agent id (letters, digits, ".", "_", "-"; 1-64)')
        return value

    @field_validator('tls_ca_file', 'tls_cert_file', 'tls_key_file', 'hub_token_file')
    @classmethod
    def _readable(cls, path: str, info: ValidationInfo) -> str:
        if not path:
            return path
        try:  # a regular file only: /dev/zero never ends, a FIFO blocks, a directory fails
            found = os.stat(path)
        except OSError as err:
            raise ValueError(f'cannot read {path!r} ({err.strerror})') from None
        if not stat.S_ISREG(found.st_mode):
            kind = next((name for test, name in _FILE_KINDS if test(found.st_mode)), 'special')
            raise ValueError(f'{path!r} is {kind}, not a regular file')
        if not os.access(path, os.R_OK):
            raise ValueError(f'cannot read {path!r}')
        if info.field_name == 'hub_token_file' and found.st_size > MAX_TOKEN_FILE:
            raise ValueError(f'{path!r} is over {MAX_TOKEN_FILE // 1024} KiB; a token is one '
                             'line')
        return path

    @model_validator(mode='after')
    def _check_files(self) -> 'Settings':
        if self.tls_key_file and not self.tls_cert_file:
            raise ValueError('tls_key_file is set without tls_cert_file')
        if self.hub_token_file and not self.hub_token.get_secret_value():
            token = _read_token(self.hub_token_file).strip()
            object.__setattr__(self, 'hub_token', SecretStr(token))
        token = self.hub_token.get_secret_value().strip()
        if token and not _TOKEN.match(token):  # the message never shows the token
            origin = f'the file {self.hub_token_file!r}' if self.hub_token_file else 'HUB_TOKEN'
            raise ValueError(f'the hub token in {origin} is not one line of visible ASCII '
                             '(a second line, a space or a control character?)')
        object.__setattr__(self, 'hub_token', SecretStr(token))
        return self

    @model_validator(mode='after')
    def _check_tables(self) -> 'Settings':
        for table in ('status_sources', 'commands'):
            names = [row.name for row in getattr(self, table)]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f'listed twice in {table}: {", ".join(duplicates)}')
        flat = {key for row in self.status_sources for key, _ in row.flat}
        flat |= {row.presence for row in self.status_sources if row.presence}
        for row in self.status_sources:
            if row.mode == 'stream' and row.name in flat:
                raise ValueError(f'stream source {row.name!r} has the name of a flat key')
        return self

    @property
    def ws_url(self) -> str:
        """Return the URL of the agent socket (under hub_url's path, if it has one)."""
        parts = urlsplit(self.hub_url)
        if parts.scheme in ('ws', 'wss'):
            return self.hub_url
        scheme = 'wss' if parts.scheme == 'https' else 'ws'
        path = f'{parts.path.rstrip("/")}/ws/agent/{self.agent_id}'
        return urlunsplit((scheme, parts.netloc, path, '', ''))

    @property
    def http_url(self) -> str:
        """Return the hub's HTTP base URL: scheme, host, port and the path it is served under."""
        parts = urlsplit(self.hub_url)
        if parts.scheme in ('ws', 'wss'):  # .../ws/agent/<id> as given: the hub's root
            return urlunsplit(({'ws': 'http', 'wss': 'https'}[parts.scheme], parts.netloc,
                               '', '', ''))
        return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip('/'), '', ''))

    @property
    def feed_url(self) -> str:
        """Return the URL of the hub's dashboard feed, the proof of what its reader handled."""
        http = urlsplit(self.http_url)
        scheme = 'wss' if http.scheme == 'https' else 'ws'
        return urlunsplit((scheme, http.netloc, f'{http.path}/ws/dashboard', '', ''))

    @property
    def echo_bound(self) -> float:
        """Return how long a frame may wait for its echo: `echo_timeout` or its default."""
        return self.echo_timeout or max(self.monitor_interval, 3.0)

    @property
    def register_url(self) -> str:
        """Return the registration endpoint, called before every socket connect."""
        return f'{self.http_url}/api/agents/register'

    def stale_limit(self, source: SourceSettings) -> float:
        """Seconds after which `source` counts as stale."""
        return source.stale_after or self.stale_after


def build_settings(values: Mapping[str, object], sources: List[Mapping[str, object]],
                   environ: Optional[Mapping[str, str]] = None,
                   commands: Sequence[Mapping[str, object]] = ()) -> Settings:
    """Validate parameter values plus env overrides into Settings, or raise SettingsError."""
    merged = dict(values)
    origins = {name: f'parameter {name!r}' for name in merged}
    env = os.environ if environ is None else environ
    env_file = str(merged.get('env_file', '.env'))
    for setting, (value, origin) in env_overrides(env, env_file).items():
        merged[setting] = value
        origins[setting] = origin
    merged['status_sources'] = tuple(sources)
    merged['commands'] = tuple(commands)
    try:
        return Settings(**merged)
    except ValidationError as err:
        raise SettingsError(describe_error(err, origins, {'status_sources': sources,
                                                          'commands': commands})) from None


def describe_error(err: ValidationError, origins: Mapping[str, str],
                   tables: Mapping[str, Sequence[Mapping[str, object]]]) -> str:
    """Turn the first pydantic error into one line naming the parameter and the value."""
    first = err.errors()[0]
    loc = [str(part) for part in first['loc']]
    message = first['msg'].removeprefix('Value error, ')
    shown = isinstance(first.get('input'), dict) or first['type'] == 'value_error'
    got = '' if shown else f' (got {first["input"]!r})'
    if loc and loc[0] in tables and len(loc) >= 2:
        name = tables[loc[0]][int(loc[1])].get('name', loc[1])
        field = f'.{loc[2]}' if len(loc) >= 3 else ''
        return f"invalid parameter '{name}{field}': {message}{got}"
    if not loc:
        return f'invalid settings: {message}'
    where = origins.get(loc[0], f'parameter {loc[0]!r}')
    if loc[0] == 'hub_token':
        got = ''  # never print a secret
    return f'invalid {where}: {message}{got}'
