"""A local Artbot hub for demos and tests (needs aiohttp, which the bridge itself does not)."""
