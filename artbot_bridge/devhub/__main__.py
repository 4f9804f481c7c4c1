"""Run the local hub: `python -m artbot_bridge.devhub --port 8000`."""

import argparse
import asyncio
import signal
import ssl
import sys
from typing import List, Optional


def main(args: Optional[List[str]] = None) -> int:
    """Parse arguments and serve until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(prog='devhub', description=__doc__)
    parser.add_argument('--host', default='127.0.0.1', help='address to listen on')
    parser.add_argument('--port', type=int, default=8000, help='port (0: any free port)')
    parser.add_argument('--ping-interval', type=float, default=20.0,
                        help='seconds between the hub pings to each socket')
    parser.add_argument('--verbose', action='store_true',
                        help='print one line per agent event and message')
    parser.add_argument('--tls-cert', help='serve https/wss with this certificate (PEM)')
    parser.add_argument('--tls-key', help='private key of --tls-cert')
    parser.add_argument('--client-ca', help='require client certificates signed by this CA')
    parser.add_argument('--token-file', help='require this bearer token from agents')
    # `ros2 run` appends --ros-args ...: ignore what follows it.
    argv = sys.argv[1:] if args is None else args
    if '--ros-args' in argv:
        argv = argv[:argv.index('--ros-args')]
    options = parser.parse_args(argv)
    try:
        from .server import DevHub, serve
    except ImportError as err:
        print(f'devhub needs aiohttp ({err}); install it with: pip install aiohttp',
              file=sys.stderr)
        return 2
    context = None
    if options.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(options.tls_cert, options.tls_key)
        if options.client_ca:
            context.load_verify_locations(options.client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
    token = None
    if options.token_file:
        with open(options.token_file, encoding='utf-8') as handle:
            token = handle.read().strip()
    hub = DevHub(options.host, options.port, options.ping_interval, options.verbose, context,
                 token)
    loop = asyncio.new_event_loop()
    task = loop.create_task(serve(hub))
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        pass
    except OSError as err:
        print(f'devhub: cannot listen on {options.host}:{options.port}: {err}', file=sys.stderr)
        return 1
    finally:
        loop.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
