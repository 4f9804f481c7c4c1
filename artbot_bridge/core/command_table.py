"""
The `commands` table: one row per hub action the robot allows, and the ROS target it runs.

A row names exactly one target (a service, a topic or an action), its interface type, how the
hub's parameters fill it, and how old a command may be (`max_age`, `when_unsure`); a topic row
may hold what it published for a `lease`, ended by its `stop` message.
"""

from typing import Any, Optional, Tuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .sources import split_pairs, split_values

# The actions every bridge answers itself (core/builtin_actions.py): no row may take a name.
BUILT_IN = ('status', 'ping', 'get_logs', 'reconnect')
# Default max_age of motion rows: a velocity older than a second is not what the hub meant now,
# and a navigation goal ten seconds late was sent into a stalled link.
MOTION_MAX_AGE = 1.0
GOAL_MAX_AGE = 10.0


class CommandSettings(BaseModel):
    """One allowed hub action and the ROS target it runs (one row of the `commands` table)."""

    model_config = ConfigDict(frozen=True, extra='forbid')

    name: str
    service: str = Field(default='', description='service to call')
    topic: str = Field(default='', description='topic to publish one message on')
    action: str = Field(default='', description='action server to send a goal to')
    type: str = Field(  # noqa: A003 - the parameter users write is <command>.type
        min_length=3, description='interface type, e.g. std_srvs/srv/Trigger')
    timeout: float = Field(default=10.0, ge=0.1, le=3600.0,
                           description='seconds before the command is answered as timed out')
    concurrent: bool = Field(default=False,
                             description='may run while another command runs')
    system: bool = Field(default=False,
                         description='answers system_command (reboot, update, ...) as well')
    arguments: Tuple[Tuple[str, str], ...] = Field(
        default=(), description='hub_parameter=field.path pairs (default: same name)')
    max_age: Optional[float] = Field(
        default=None, ge=0.0, le=86400.0,
        description="seconds from the hub's stamp after which the command is answered "
                    f'expired and not run (0: no bound; unset: {MOTION_MAX_AGE:g} s for '
                    f'Twist and TwistStamped topics, {GOAL_MAX_AGE:g} s for action goals, '
                    'no bound otherwise)')
    when_unsure: str = Field(
        default='', pattern='^(|refuse|run)$',
        description='what a command does when its age is not known within max_age: refuse '
                    '(the default of motion rows) or run (the default otherwise)')
    lease: float = Field(
        default=0.0, ge=0.0, le=3600.0,
        description='topic rows: seconds a published message holds; with no command to the '
                    'row within it, the stop message is published once (0: no lease)')
    stop: Tuple[Tuple[str, Any], ...] = Field(
        default=(), description='field.path=value pairs of the stop message a lease ends with '
                                '(JSON values; Twist types: the zero message)')

    _split_arguments = field_validator('arguments', mode='before')(split_pairs)
    _split_stop = field_validator('stop', mode='before')(split_values)

    @model_validator(mode='after')
    def _one_target(self) -> 'CommandSettings':
        targets = [kind for kind in ('service', 'topic', 'action') if getattr(self, kind)]
        if len(targets) != 1:
            raise ValueError('set exactly one of service, topic or action')
        if self.name in BUILT_IN:
            raise ValueError(f'{self.name!r} is a built-in command')
        if (self.lease or self.stop) and self.kind != 'topic':
            raise ValueError('lease and stop are for topic rows')
        if self.stop and not self.lease:
            raise ValueError('stop is set without a lease')
        if self.lease and not self.stop and not self.twist:
            raise ValueError(f'a lease on {self.type} needs its stop message: '
                             "stop: ['field.path=value', ...]")
        motion = self.twist or self.kind == 'action'
        if self.max_age is None:
            default = MOTION_MAX_AGE if self.twist else GOAL_MAX_AGE if motion else 0.0
            object.__setattr__(self, 'max_age', default)
        if not self.when_unsure:
            object.__setattr__(self, 'when_unsure', 'refuse' if motion else 'run')
        return self

    @property
    def twist(self) -> bool:
        """Return whether the row publishes velocities (geometry_msgs Twist or TwistStamped)."""
        package, _, name = self.type.partition('/')
        return self.kind == 'topic' and package == 'geometry_msgs' and \
            name.rpartition('/')[2] in ('Twist', 'TwistStamped') and name.count('/') <= 1

    @property
    def kind(self) -> str:
        """Return 'service', 'topic' or 'action'."""
        return next(kind for kind in ('service', 'topic', 'action') if getattr(self, kind))

    @property
    def target(self) -> str:
        """Return the service, topic or action name."""
        return getattr(self, self.kind)
