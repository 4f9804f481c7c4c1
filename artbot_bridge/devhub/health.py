"""
The numbers of a robot record: what a heartbeat copies in, and the hub's health score.

Ported from robot_manager.update_agent_heartbeat and services/health_monitoring.py: the
arithmetic runs with Python's semantics, so what raises in the real hub raises here.
"""

from typing import Any, Dict

# robot_manager.update_agent_heartbeat: the only heartbeat keys copied into the robot record.
HEARTBEAT_KEYS = ('cpu_percent', 'memory_percent', 'temperature', 'battery_level',
                  'workspace_running', 'create3_connected', 'create3_status', 'oak_connected',
                  'uptime')
# robot_manager.update_robot_status: the health score runs when one of these is in the data.
HEALTH_TRIGGER_KEYS = ('battery_level', 'cpu_usage', 'memory_usage', 'temperature')
# health_monitoring._calculate_health_score: the keys its arithmetic reads (missing: 0).
HEALTH_KEYS = HEALTH_TRIGGER_KEYS + ('network_latency',)


def health_entry(robot_id: str, health_data: Any, timestamp: str) -> Dict[str, Any]:
    """Return the health record before scoring (HealthMonitoringService.update_robot_health)."""
    return {
        'robot_id': robot_id,
        'timestamp': timestamp,
        'battery_level': health_data.get('battery_level', 0),
        'cpu_usage': health_data.get('cpu_usage', 0),
        'memory_usage': health_data.get('memory_usage', 0),
        'temperature': health_data.get('temperature', 0),
        'disk_usage': health_data.get('disk_usage', 0),
        'network_latency': health_data.get('network_latency', 0),
        'errors_count': health_data.get('errors_count', 0),
        'uptime': health_data.get('uptime', 0),
    }


def calculate_health_score(health_data: Dict[str, Any]) -> float:
    """Return the score 0-100 (HealthMonitoringService._calculate_health_score, verbatim)."""
    scores = []

    battery = health_data['battery_level']
    if battery > 50:
        battery_score = 100
    elif battery > 20:
        battery_score = 50 + (battery - 20) * (50 / 30)
    else:
        battery_score = battery * (50 / 20)
    scores.append(battery_score * 0.3)

    cpu = health_data['cpu_usage']
    cpu_score = max(0, 100 - cpu)
    scores.append(cpu_score * 0.2)

    memory = health_data['memory_usage']
    memory_score = max(0, 100 - memory)
    scores.append(memory_score * 0.2)

    temp = health_data['temperature']
    if temp < 50:
        temp_score = 100
    elif temp < 70:
        temp_score = 100 - (temp - 50) * 2
    else:
        temp_score = max(0, 60 - (temp - 70) * 3)
    scores.append(temp_score * 0.15)

    latency = health_data['network_latency']
    if latency < 50:
        latency_score = 100
    elif latency < 200:
        latency_score = 100 - (latency - 50) * 0.5
    else:
        latency_score = max(0, 25 - (latency - 200) * 0.1)
    scores.append(latency_score * 0.15)

    return sum(scores)


def determine_health_status(health_data: Dict[str, Any]) -> str:
    """Return the health word for a score (HealthMonitoringService._determine_health_status)."""
    score = health_data['health_score']
    if score >= 80:
        return 'healthy'
    elif score >= 60:
        return 'good'
    elif score >= 40:
        return 'warning'
    elif score >= 20:
        return 'poor'
    else:
        return 'critical'


def heartbeat_update(data: Any) -> Dict[str, Any]:
    """Return the robot fields a heartbeat sets (robot_manager.update_agent_heartbeat)."""
    robot_update: Dict[str, Any] = {}
    if 'cpu_percent' in data:
        robot_update['cpu_usage'] = data['cpu_percent']
    if 'memory_percent' in data:
        robot_update['memory_usage'] = data['memory_percent']
    if 'temperature' in data:
        robot_update['temperature'] = data['temperature']
    if 'battery_level' in data:
        robot_update['battery_level'] = data['battery_level']
    if 'workspace_running' in data:
        robot_update['current_action'] = 'person_following' if data['workspace_running'] \
            else 'idle'
        robot_update['workspace_running'] = data['workspace_running']
    if 'create3_connected' in data:
        robot_update['create3_connected'] = data['create3_connected']
    if 'create3_status' in data:
        robot_update['create3_status'] = data['create3_status']
    if 'oak_connected' in data:
        robot_update['oak_connected'] = data['oak_connected']
    if 'uptime' in data:
        robot_update['uptime'] = data['uptime']
    return robot_update
