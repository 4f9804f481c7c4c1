"""The commands every bridge answers itself, whatever its command table holds."""

NAMES = ('status', 'ping', 'get_logs', 'reconnect')
