"""Tests for the simulated Create 3 demo robot."""

import math
import os
import threading

from artbot_bridge.demo_robot import Create3Sim, DemoRobot, HIGH_THRESHOLD, LOW_THRESHOLD
from artbot_bridge.demo_robot import spin_until_shutdown
import pytest
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

TIMEOUT = 10.0


def run(sim: Create3Sim, seconds: float, dt: float = 0.05) -> None:
    """Step the simulation for the given simulated time."""
    for _ in range(round(seconds / dt)):
        sim.step(dt)


def test_drains_while_driving_faster_than_idle() -> None:
    """Drain at drain_per_s while driving and more slowly while idle."""
    driving = Create3Sim(start_percentage=0.8, docked=False, auto_cycle=False)
    driving.start_workspace()
    idle = Create3Sim(start_percentage=0.8, docked=False, auto_cycle=False)
    run(driving, 10.0)
    run(idle, 10.0)
    assert driving.percentage == pytest.approx(0.8 - 10.0 * 0.004)
    assert driving.percentage < idle.percentage < 0.8
    assert driving.current < idle.current < 0.0


def test_charges_while_docked_and_stops_at_full() -> None:
    """Charge at charge_per_s while docked and cap at 100 %."""
    sim = Create3Sim(start_percentage=0.5, auto_cycle=False)
    run(sim, 10.0)
    assert sim.percentage == pytest.approx(0.5 + 10.0 * 0.01)
    assert sim.charging and sim.current > 0.0
    run(sim, 100.0)
    assert sim.percentage == 1.0
    assert not sim.charging and sim.current == 0.0
    assert sim.voltage == pytest.approx(16.8)


def test_automatic_cycle_undocks_then_docks_at_low_battery() -> None:
    """Undock and run above the high threshold, dock again below the low one."""
    sim = Create3Sim(start_percentage=0.85)
    run(sim, 4.0)
    assert sim.docked and not sim.running
    run(sim, 2.0)
    assert not sim.docked and sim.running
    assert sim.percentage == pytest.approx(HIGH_THRESHOLD - 0.004, abs=0.001)
    for _ in range(round((HIGH_THRESHOLD - LOW_THRESHOLD) / 0.004 / 0.05) + 100):
        if sim.docked:
            break
        sim.step(0.05)
    assert sim.docked and not sim.running
    assert sim.percentage == pytest.approx(LOW_THRESHOLD, abs=0.001)
    assert (sim.x, sim.y) == (0.0, 0.0)


def test_percentage_stays_within_bounds() -> None:
    """Keep the percentage in 0..1 however long the robot drains or charges."""
    sim = Create3Sim(start_percentage=0.1, docked=False, auto_cycle=False)
    sim.running = True
    run(sim, 100.0, dt=1.0)
    assert sim.percentage == 0.0 and not sim.running
    assert sim.voltage == pytest.approx(14.0)
    sim.dock()
    run(sim, 500.0, dt=1.0)
    assert sim.percentage == 1.0
    assert Create3Sim(start_percentage=1.5).percentage == 1.0
    assert Create3Sim(start_percentage=-0.5).percentage == 0.0


def test_odometry_moves_only_while_running_and_undocked() -> None:
    """Move the pose only while the workspace runs off the dock."""
    sim = Create3Sim(docked=False, auto_cycle=False)
    run(sim, 1.0)
    assert (sim.x, sim.y, sim.yaw) == (0.0, 0.0, 0.0)
    assert sim.linear_velocity == 0.0
    sim.start_workspace()
    run(sim, 2.0)
    assert sim.x > 0.0 and sim.y > 0.0 and sim.yaw == pytest.approx(0.8)
    assert sim.linear_velocity == 0.2 and sim.angular_velocity == 0.4
    sim.stop_workspace()
    pose = (sim.x, sim.y, sim.yaw)
    run(sim, 1.0)
    assert (sim.x, sim.y, sim.yaw) == pose
    sim.start_workspace()
    sim.dock()
    run(sim, 1.0)
    assert (sim.x, sim.y, sim.yaw) == (0.0, 0.0, 0.0)
    sim.start_workspace()
    run(sim, 20.0)
    assert -math.pi <= sim.yaw <= math.pi
    assert math.hypot(sim.x, sim.y - 0.5) == pytest.approx(0.5, abs=0.01)


def test_service_results() -> None:
    """Answer success or a reason for each command."""
    sim = Create3Sim(start_percentage=0.5, auto_cycle=False)
    assert sim.dock() == (False, 'already docked')
    assert sim.stop_workspace() == (False, 'workspace already stopped')
    assert sim.undock() == (True, 'undocked')
    assert sim.undock() == (False, 'already undocked')
    assert sim.start_workspace() == (True, 'workspace started')
    assert sim.start_workspace() == (False, 'workspace already running')
    assert sim.stop_workspace() == (True, 'workspace stopped')
    assert sim.dock() == (True, 'docked')
    assert sim.start_workspace() == (True, 'undocked and workspace started')
    assert not sim.docked and sim.running
    assert sim.dock() == (True, 'docked') and not sim.running
    low = Create3Sim(start_percentage=0.1, auto_cycle=False)
    ok, message = low.start_workspace()
    assert not ok and 'battery' in message and not low.running


def test_node_publishes_battery_and_serves_trigger() -> None:
    """Publish BatteryState and answer ~/start_workspace in a private context."""
    namespace = f'/test_demo_robot_{os.getpid()}'
    ctx = rclpy.Context()
    rclpy.init(context=ctx, signal_handler_options=SignalHandlerOptions.NO)
    executor = SingleThreadedExecutor(context=ctx)
    nodes = []

    def spin() -> None:
        try:
            executor.spin()
        except ExternalShutdownException:
            pass

    thread = threading.Thread(target=spin, daemon=True)
    try:
        robot = DemoRobot(context=ctx, namespace=namespace)
        nodes.append(robot)
        probe = Node('demo_robot_probe', context=ctx, namespace=namespace)
        nodes.append(probe)
        battery = []
        got_battery = threading.Event()

        def on_battery(msg: BatteryState) -> None:
            battery.append(msg)
            got_battery.set()

        probe.create_subscription(BatteryState, 'battery_state', on_battery, 10)
        client = probe.create_client(Trigger, 'demo_robot/start_workspace')
        for node in nodes:
            executor.add_node(node)
        thread.start()

        assert got_battery.wait(TIMEOUT), 'no BatteryState received'
        msg = battery[0]
        assert msg.present and 0.0 <= msg.percentage <= 1.0
        assert 14.0 <= msg.voltage <= 16.8
        assert msg.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_CHARGING

        assert client.wait_for_service(timeout_sec=TIMEOUT), 'service not available'
        answered = threading.Event()
        future = client.call_async(Trigger.Request())
        future.add_done_callback(lambda _: answered.set())
        assert answered.wait(TIMEOUT), 'no answer from ~/start_workspace'
        assert future.result().success, future.result().message
        assert robot.sim.running and not robot.sim.docked
    finally:
        executor.shutdown()
        for node in nodes:
            node.destroy_node()
        ctx.try_shutdown()
        if thread.ident is not None:
            thread.join(TIMEOUT)
        assert not thread.is_alive()


def test_a_publish_that_races_the_shutdown_ends_the_spin_quietly() -> None:
    """A timer publishing on a context a signal just shut down: no traceback, spin ends."""
    context = rclpy.Context()
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node('demo_shutdown_race', context=context)
    publisher = node.create_publisher(Bool, '/demo_shutdown_race', 1)
    fired = []

    def tick() -> None:
        fired.append(True)
        context.shutdown()  # what the SIGINT handler does, between two callbacks or not
        publisher.publish(Bool(data=True))  # raises: the context is invalid
    node.create_timer(0.01, tick)
    try:
        spin_until_shutdown(node)  # returns; the error is the race, not a fault
        assert fired == [True]
    finally:
        node.destroy_node()
        context.try_shutdown()


def test_an_error_while_the_context_lives_is_raised() -> None:
    """Only the shutdown race is quiet: a callback's own bug still ends the demo loudly."""
    context = rclpy.Context()
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node('demo_bug', context=context)

    def tick() -> None:
        raise ValueError('a bug')
    node.create_timer(0.01, tick)
    try:
        with pytest.raises(ValueError, match='a bug'):
            spin_until_shutdown(node)
    finally:
        node.destroy_node()
        context.try_shutdown()
