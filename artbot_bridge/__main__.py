"""Run the bridge: `python -m artbot_bridge --ros-args -p hub_url:=...`."""

import sys

from .main import main

sys.exit(main())
