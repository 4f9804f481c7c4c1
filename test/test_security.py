"""TLS with real certificates made at test time (trustme), and bearer-token auth."""

import ssl

from harness import HubHarness, wait_for
import pytest
import trustme


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    """Return a CA, a hub certificate for 127.0.0.1/localhost and a client certificate."""
    root = tmp_path_factory.mktemp('pki')
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(root / 'ca.pem'))
    server = ca.issue_cert('127.0.0.1', 'localhost')
    client = ca.issue_cert('bot-tls@artbot')
    client.private_key_and_cert_chain_pem.write_to_path(str(root / 'client.pem'))
    other = trustme.CA()
    other.cert_pem.write_to_path(str(root / 'other-ca.pem'))
    wrong_host = ca.issue_cert('hub.example')
    return {'root': root, 'ca': ca, 'server': server, 'wrong_host': wrong_host}


def tls_hub(cert, ca=None, require_client=False, **options):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    if require_client:
        ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    harness = HubHarness(ssl_context=context, **options)
    harness.start()
    return harness


def test_wss_with_the_hub_ca_connects(pki, start_bridge):
    hub = tls_hub(pki['server'])
    try:
        start_bridge({'hub_url': hub.url, 'agent_id': 'bot-tls',
                      'tls_ca_file': str(pki['root'] / 'ca.pem')})
        hub.wait_connected('bot-tls')
        assert hub.events('register', agent_id='bot-tls')
    finally:
        hub.close()


@pytest.mark.parametrize('case', ['wrong CA', 'wrong hostname', 'no client certificate'])
def test_tls_refusals_are_clear_and_not_fatal(pki, start_bridge, case):
    if case == 'wrong hostname':
        hub = tls_hub(pki['wrong_host'])
    elif case == 'no client certificate':
        hub = tls_hub(pki['server'], pki['ca'], require_client=True)
    else:
        hub = tls_hub(pki['server'])
    ca_file = pki['root'] / ('other-ca.pem' if case == 'wrong CA' else 'ca.pem')
    try:
        bridge = start_bridge({'hub_url': hub.url, 'agent_id': 'bot-tls-bad',
                               'tls_ca_file': str(ca_file)})
        wait_for(lambda: bridge.output().count('hub link down') >= 2, 20, 'two refusals',
                 bridge.output)
        expected = {'wrong CA': 'CERTIFICATE_VERIFY_FAILED',
                    'wrong hostname': 'IP address mismatch',
                    'no client certificate': 'registration failed'}[case]
        assert expected in bridge.output(), bridge.output()
        assert not hub.events('connect') and bridge.alive()
    finally:
        hub.close()


def test_mutual_tls_with_a_client_certificate(pki, start_bridge):
    hub = tls_hub(pki['server'], pki['ca'], require_client=True)
    try:
        start_bridge({'hub_url': hub.url, 'agent_id': 'bot-mtls',
                      'tls_ca_file': str(pki['root'] / 'ca.pem'),
                      'tls_cert_file': str(pki['root'] / 'client.pem')})
        hub.wait_connected('bot-mtls')
    finally:
        hub.close()


def test_token_sent_on_registration_and_socket_never_shown(start_bridge, tmp_path, ros):
    from diagnostic_msgs.msg import DiagnosticArray
    hub = HubHarness(token='s3cr3t-token')
    hub.start()
    try:
        token_file = tmp_path / 'token'
        token_file.write_text('s3cr3t-token\n')
        diagnostics = ros.collect(DiagnosticArray, '/diagnostics')
        bridge = start_bridge({'hub_url': hub.url, 'agent_id': 'bot-tok',
                               'hub_token_file': str(token_file)})
        hub.wait_connected('bot-tok')
        assert not hub.events('refused')
        wait_for(lambda: diagnostics, 10, 'diagnostics')
        shown = bridge.output() + repr(diagnostics)
        assert 's3cr3t' not in shown
    finally:
        hub.close()


def test_wrong_token_is_logged_once_and_retried_at_the_maximum_backoff(start_bridge):
    hub = HubHarness(token='right-token')
    hub.start()
    try:
        bridge = start_bridge({'hub_url': hub.url, 'agent_id': 'bot-denied',
                               'reconnect_max_delay': 1.0}, {'HUB_TOKEN': 'wrong-token'})
        wait_for(lambda: len(hub.events('refused')) >= 4, 20, 'four refused attempts')
        times = [event['t'] for event in hub.events('refused')]
        assert min(b - a for a, b in zip(times, times[1:])) >= 0.9  # never a tight loop
        output = bridge.output()
        assert output.count('the hub refused this agent') == 1, output
        assert 'wrong-token' not in output and 'right-token' not in output
        assert bridge.alive()
    finally:
        hub.close()


def test_token_is_not_a_parameter(hub, start_bridge, ros):
    from rcl_interfaces.srv import ListParameters
    start_bridge({'hub_url': hub.url, 'agent_id': 'bot-params'}, {'HUB_TOKEN': 'abc'})
    hub.wait_connected('bot-params')
    client = ros.node.create_client(ListParameters, '/artbot_bridge/list_parameters')
    assert client.wait_for_service(timeout_sec=10)
    future = client.call_async(ListParameters.Request())
    wait_for(future.done, 10, 'the parameter list')
    names = future.result().result.names
    assert 'hub_url' in names and 'hub_token_file' in names
    assert not [name for name in names if name == 'hub_token' or 'secret' in name]
