"""
A local Artbot hub for demos and tests (needs aiohttp, which the bridge itself does not).

The real hub's code, ported (standard library only, so the bridge's tests import it cheaply):
`hubstate` (the one state object: robots, agents, logs, health checks, commands), `health`
(what a heartbeat copies, the health score), `agent_reader` (how a frame is read and handled),
`command_service` (a command's bookkeeping), `request_bodies` (the routes' 422s) and
`realhub` (whether the real hub survives a message or a value). The server, on aiohttp:
`server` (`DevHub`, and `compose()`, where the parts below meet), `api` (the HTTP routes),
`agent_sockets`, `connections` (the connection table), `dashboard` (the feeds and the page),
`gate` (the optional agent token) and `events` (the event log). `killer` is a proxy that
kills a hub's agent reader from outside. Import each name from the module that defines it.
"""
