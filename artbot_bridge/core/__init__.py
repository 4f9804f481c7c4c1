"""
The bridge's rclpy-free core: the hub link and everything it decides.

Nothing here imports rclpy, a message package or `artbot_bridge.ros`: these modules run and
are tested without ROS.
"""
