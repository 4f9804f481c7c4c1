"""Simulated iRobot Create 3 with an OAK camera: battery, dock, odometry and camera for demos."""

import math
from typing import Any, Optional

from geometry_msgs.msg import Quaternion, Twist
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import BatteryState, CameraInfo
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

LINEAR_SPEED = 0.2  # m/s while the workspace is running
ANGULAR_SPEED = 0.4  # rad/s, i.e. a circle with a radius of 0.5 m
IDLE_DRAIN_FACTOR = 0.25  # undocked but stopped drains at a quarter of the driving rate
HIGH_THRESHOLD = 0.9  # the automatic cycle undocks when charging rises past this
LOW_THRESHOLD = 0.2  # the automatic cycle docks when draining falls below this
CAPACITY_AH = 1.8


class Create3Sim:
    """Plain-Python state of the simulated robot (no ROS dependencies)."""

    def __init__(self, drain_per_s: float = 0.004, charge_per_s: float = 0.01,
                 start_percentage: float = 0.8, docked: bool = True,
                 auto_cycle: bool = True) -> None:
        """Create the simulation, docked and stopped by default."""
        self.drain_per_s = drain_per_s
        self.charge_per_s = charge_per_s
        self.percentage = min(max(start_percentage, 0.0), 1.0)
        self.docked = docked
        self.running = False
        self.auto_cycle = auto_cycle
        self.x = self.y = self.yaw = 0.0
        self.teleop: Optional[tuple[float, float]] = None  # /cmd_vel's (linear, angular)

    @property
    def moving(self) -> bool:
        """Return True while the robot drives (its circle, or as /cmd_vel says)."""
        driven = self.running or self.teleop is not None
        return driven and not self.docked and self.percentage > 0.0

    @property
    def linear_velocity(self) -> float:
        """Return the current forward speed in m/s."""
        if not self.moving:
            return 0.0
        return self.teleop[0] if self.teleop is not None else LINEAR_SPEED

    @property
    def angular_velocity(self) -> float:
        """Return the current turn rate in rad/s."""
        if not self.moving:
            return 0.0
        return self.teleop[1] if self.teleop is not None else ANGULAR_SPEED

    def drive(self, linear: float, angular: float) -> None:
        """Drive at a /cmd_vel velocity (undocking first); a zero one stops driving."""
        if linear == 0.0 and angular == 0.0:
            self.teleop = None
            return
        if self.docked:
            self.undock()
        self.teleop = (linear, angular)

    @property
    def charging(self) -> bool:
        """Return True while docked and not yet full."""
        return self.docked and self.percentage < 1.0

    @property
    def current(self) -> float:
        """Return the battery current in A (negative while discharging)."""
        if self.docked:
            return 2.0 if self.charging else 0.0
        return -1.5 if self.moving else -0.3

    @property
    def voltage(self) -> float:
        """Return the pack voltage of a 4S Li-ion battery (14.0-16.8 V)."""
        return 14.0 + 2.8 * self.percentage

    def step(self, dt: float) -> None:
        """Advance battery, pose and the automatic dock cycle by dt seconds."""
        if dt <= 0.0:
            return
        before = self.percentage
        if self.docked:
            self.percentage = min(1.0, self.percentage + self.charge_per_s * dt)
        else:
            rate = self.drain_per_s * (1.0 if self.moving else IDLE_DRAIN_FACTOR)
            if self.moving:
                speed, turn = self.linear_velocity, self.angular_velocity
                self.x += speed * math.cos(self.yaw) * dt
                self.y += speed * math.sin(self.yaw) * dt
                self.yaw = math.atan2(math.sin(self.yaw + turn * dt),
                                      math.cos(self.yaw + turn * dt))
            self.percentage = max(0.0, self.percentage - rate * dt)
            if self.percentage <= 0.0:
                self.running = False
                self.teleop = None
        if not self.auto_cycle:
            return
        if self.docked and before <= HIGH_THRESHOLD < self.percentage:
            self.undock()
            self.start_workspace()
        elif not self.docked and self.percentage < LOW_THRESHOLD <= before:
            self.dock()

    def start_workspace(self) -> tuple[bool, str]:
        """Start driving, undocking first if needed."""
        if self.running:
            return False, 'workspace already running'
        if self.percentage < LOW_THRESHOLD:
            return False, 'battery too low to start the workspace'
        message = 'workspace started'
        if self.docked:
            self.undock()
            message = 'undocked and workspace started'
        self.running = True
        return True, message

    def stop_workspace(self) -> tuple[bool, str]:
        """Stop driving."""
        if not self.running:
            return False, 'workspace already stopped'
        self.running = False
        return True, 'workspace stopped'

    def dock(self) -> tuple[bool, str]:
        """Stop the workspace and return to the dock at the origin."""
        if self.docked:
            return False, 'already docked'
        self.running = False
        self.teleop = None
        self.docked = True
        self.x = self.y = self.yaw = 0.0
        return True, 'docked'

    def undock(self) -> tuple[bool, str]:
        """Leave the dock without starting the workspace."""
        if not self.docked:
            return False, 'already undocked'
        self.docked = False
        return True, 'undocked'


class DemoRobot(Node):
    """ROS 2 node that wires timers, publishers and services to a Create3Sim."""

    def __init__(self, **kwargs: Any) -> None:
        """Declare parameters and create publishers, timers and services."""
        super().__init__('demo_robot', **kwargs)
        rate = FloatingPointRange(from_value=0.0, to_value=0.1, step=0.0)
        unit = FloatingPointRange(from_value=0.0, to_value=1.0, step=0.0)
        drain = self.declare_parameter('drain_per_s', 0.004, ParameterDescriptor(
            description='Battery fraction lost per second while driving',
            floating_point_range=[rate])).value
        charge = self.declare_parameter('charge_per_s', 0.01, ParameterDescriptor(
            description='Battery fraction gained per second while docked',
            floating_point_range=[rate])).value
        start = self.declare_parameter('start_percentage', 0.8, ParameterDescriptor(
            description='Initial battery fraction (0.0-1.0); the robot starts docked',
            floating_point_range=[unit])).value
        auto = self.declare_parameter('auto_cycle', True, ParameterDescriptor(
            description='Undock above 90 % and dock below 20 % automatically')).value
        self.sim = Create3Sim(drain, charge, start, auto_cycle=auto)

        self._battery_pub = self.create_publisher(BatteryState, 'battery_state', 10)
        self._dock_pub = self.create_publisher(Bool, 'dock_status', 10)
        self._odom_pub = self.create_publisher(Odometry, 'odom', 10)
        self._running_pub = self.create_publisher(Bool, 'workspace_running', 10)
        self._camera_pub = self.create_publisher(CameraInfo, 'oak/rgb/camera_info', 10)
        self._last_step: Optional[int] = None
        self.create_subscription(Twist, 'cmd_vel', self._on_cmd_vel, 10)
        self.create_timer(0.05, self._on_sim_timer)
        self.create_timer(0.2, self._publish_battery)
        self.create_timer(0.5, self._publish_status)
        for name, handler in (('start_workspace', self.sim.start_workspace),
                              ('stop_workspace', self.sim.stop_workspace),
                              ('dock', self.sim.dock), ('undock', self.sim.undock),
                              ('restart_create3', lambda: (True, 'create3 restarted')),
                              ('reboot_create3', lambda: (True, 'create3 rebooted'))):
            self.create_service(Trigger, '~/' + name, self._trigger(name, handler))
        self.get_logger().info(f'Demo robot ready (battery {self.sim.percentage:.0%})')

    def _trigger(self, name: str, handler: Any) -> Any:
        def callback(request: Trigger.Request, response: Trigger.Response) -> Any:
            response.success, response.message = handler()
            self.get_logger().info(f'{name}: {response.message}')
            return response
        return callback

    def _on_cmd_vel(self, msg: Twist) -> None:
        was = self.sim.teleop
        self.sim.drive(msg.linear.x, msg.angular.z)
        if (was is None) != (self.sim.teleop is None):
            self.get_logger().info('cmd_vel: ' + ('stop' if self.sim.teleop is None else
                                                  f'driving at {msg.linear.x:g} m/s, '
                                                  f'{msg.angular.z:g} rad/s'))

    def _on_sim_timer(self) -> None:
        now = self.get_clock().now().nanoseconds
        if self._last_step is not None:
            self.sim.step(min(max((now - self._last_step) * 1e-9, 0.0), 0.5))
        self._last_step = now
        odom = Odometry()
        odom.header.stamp = self.get_clock().now().to_msg()
        odom.header.frame_id = 'odom'
        odom.child_frame_id = 'base_link'
        odom.pose.pose.position.x = self.sim.x
        odom.pose.pose.position.y = self.sim.y
        odom.pose.pose.orientation = Quaternion(
            z=math.sin(self.sim.yaw / 2.0), w=math.cos(self.sim.yaw / 2.0))
        odom.twist.twist.linear.x = self.sim.linear_velocity
        odom.twist.twist.angular.z = self.sim.angular_velocity
        self._odom_pub.publish(odom)

    def _publish_battery(self) -> None:
        sim = self.sim
        msg = BatteryState()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.voltage = sim.voltage
        msg.current = sim.current
        msg.temperature = 30.0
        msg.charge = sim.percentage * CAPACITY_AH
        msg.capacity = msg.design_capacity = CAPACITY_AH
        msg.percentage = sim.percentage
        if sim.docked:
            msg.power_supply_status = (BatteryState.POWER_SUPPLY_STATUS_CHARGING if sim.charging
                                       else BatteryState.POWER_SUPPLY_STATUS_FULL)
        else:
            msg.power_supply_status = BatteryState.POWER_SUPPLY_STATUS_DISCHARGING
        msg.power_supply_health = BatteryState.POWER_SUPPLY_HEALTH_GOOD
        msg.power_supply_technology = BatteryState.POWER_SUPPLY_TECHNOLOGY_LION
        msg.present = True
        self._battery_pub.publish(msg)

    def _publish_status(self) -> None:
        self._dock_pub.publish(Bool(data=self.sim.docked))
        self._running_pub.publish(Bool(data=self.sim.running))
        camera = CameraInfo(width=640, height=480, distortion_model='plumb_bob')
        camera.header.stamp = self.get_clock().now().to_msg()
        camera.header.frame_id = 'oak_rgb_camera_optical_frame'
        self._camera_pub.publish(camera)


def spin_until_shutdown(node: Node) -> None:
    """
    Spin `node` until Ctrl-C or its context shuts down.

    A timer that fires as the signal shuts the context down publishes on a dead context; that
    error ends the spin quietly, like the shutdown it raced. Any other error is raised.
    """
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:  # noqa: B902 - rcl's errors have no public type
        if node.context.ok():
            raise
    finally:
        executor.shutdown()


def main(args: Optional[list[str]] = None) -> None:
    """Run the demo robot node until interrupted."""
    rclpy.init(args=args)
    node = DemoRobot()
    try:
        spin_until_shutdown(node)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
