"""The ROS edges: the node, its parameters, topics, services, commands and messages."""
