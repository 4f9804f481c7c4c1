"""Bridge between a ROS 2 robot and the Artbot Control Hub."""

__version__ = '0.1.0'
