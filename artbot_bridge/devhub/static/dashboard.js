// The local hub's dashboard: one socket (/ws/devhub) in, the robot API's POSTs out.
// Every value from the hub is shown as text (textContent, createElement); nothing from the
// hub ever becomes markup, a selector or a style. Robots are found by id in a Map.
// The first panel shows a record the way the real hub's robot card (RobotCard.vue) does: the
// same keys, the same fallbacks (`|| 0`, 'Unknown', '0m'), so a missing key looks here as an
// operator would see it there.
'use strict';

(() => {
  const HISTORY_S = 300;        // sparkline window
  const MAX_LOGS = 200;         // log lines kept per robot
  const MAX_RESPONSES = 50;     // command entries kept per robot
  const BACKOFF_MS = [250, 500, 1000, 2000];  // reconnect delays, the last one repeats
  const OPEN_TIMEOUT_MS = 5000;
  // Maps, not objects: a key from the hub such as "constructor" must find nothing.
  const LEVELS = new Map(Object.entries({debug: 10, info: 20, warn: 30, warning: 30, error: 40,
    fatal: 50, critical: 50}));
  const LIVE_STATUSES = new Set(['online', 'active', 'idle', 'busy', 'running', 'connected']);
  // Keys that have a place of their own on the card; every other key goes to the rest.
  const SHOWN = new Set(['id', 'agent_id', 'name', 'status', 'location', 'battery_level',
    'cpu_usage', 'memory_usage', 'temperature', 'oak_camera_connected', 'create3_connected',
    'workspace_status', 'uptime_seconds', 'hostname', 'ip_address', 'capabilities',
    'last_heartbeat', 'sources']);
  const UNITS = new Map(Object.entries({disk_percent: ' %', process_cpu_percent: ' %',
    process_rss_mb: ' MB', rtt_ms: ' ms'}));
  // The heartbeat writes these; the hub's card reads the key in brackets instead.
  const LABELS = new Map(Object.entries({disk_percent: 'disk', process_cpu_percent: 'process CPU',
    process_rss_mb: 'process memory', net_bytes_sent: 'network sent',
    net_bytes_recv: 'network received', rtt_ms: 'link RTT',
    oak_connected: 'oak connected (card: oak_camera_connected)',
    workspace_running: 'workspace running (card: workspace_status)',
    uptime: 'uptime (card: uptime_seconds)'}));
  const DURATIONS = new Set(['system_uptime', 'uptime']);

  const cards = new Map();  // robot id -> card state
  const $ = (id) => document.getElementById(id);
  const now = () => Date.now() / 1000;

  // -- formatting ---------------------------------------------------------------------------

  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  const fixed = (v, digits) => (isNum(v) ? v.toFixed(digits) : null);

  // What Vue's {{ }} prints (toDisplayString): nothing for null, JSON for arrays and objects.
  function vueText(value) {
    if (value === null || value === undefined) return '';
    if (Array.isArray(value) || (typeof value === 'object' &&
        (value.toString === Object.prototype.toString || typeof value.toString !== 'function'))) {
      return JSON.stringify(value, null, 2);
    }
    return String(value);
  }

  function formatUptime(seconds) {  // RobotCard.vue's formatUptime, as it is
    if (!seconds || seconds === 0) return '0m';
    const hours = Math.floor(seconds / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    return hours > 0 ? `${hours}h ${minutes}m` : `${minutes}m`;
  }

  function entryTime(entry) {  // a log line's time in Unix seconds: its timestamp, or now
    if (isNum(entry.time)) return entry.time;
    if (typeof entry.timestamp === 'string') {
      const zoned = /(Z|[+-]\d\d:?\d\d)$/.test(entry.timestamp);  // the hub's are naive UTC
      const ms = Date.parse(zoned ? entry.timestamp : `${entry.timestamp}Z`);
      if (Number.isFinite(ms)) return ms / 1000;
    }
    return null;
  }

  function duration(seconds) {
    if (!isNum(seconds)) return null;
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor(s / 60) % 60} min`;
    return `${Math.floor(s / 86400)} d ${Math.floor(s / 3600) % 24} h`;
  }

  function clock(unixSeconds) {
    const date = isNum(unixSeconds) ? new Date(unixSeconds * 1000) : new Date();
    return date.toLocaleTimeString([], {hour12: false});
  }

  function plain(value) {  // any JSON value as one line of text
    if (value === null || value === undefined) return null;
    if (typeof value === 'boolean') return value ? 'yes' : 'no';
    if (isNum(value)) return Number.isInteger(value) ? String(value) : String(+value.toFixed(3));
    if (Array.isArray(value) && value.every((v) => typeof v !== 'object' || v === null)) {
      return value.map((v) => plain(v) ?? '—').join(', ');
    }
    return typeof value === 'string' ? value : JSON.stringify(value);
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function setText(node, text) {  // null shows a greyed dash
    node.textContent = text === null || text === undefined ? '—' : String(text);
    node.classList.toggle('missing', text === null || text === undefined);
  }

  function keyValues(list, entries) {  // fill a <dl> with label/value pairs
    list.replaceChildren();
    for (const [key, value] of entries) {
      list.append(el('dt', '', /^[a-z0-9][a-z0-9_.]*$/.test(key) ? key.replace(/_/g, ' ') : key));
      const dd = el('dd');
      setText(dd, value);
      list.append(dd);
    }
  }

  function flatten(value, prefix = '', out = []) {  // {"a": {"b": 1}} -> [["a.b", "1"]]
    if (value && typeof value === 'object' && !Array.isArray(value) && out.length < 40) {
      for (const [key, child] of Object.entries(value)) {
        flatten(child, prefix ? `${prefix}.${key}` : key, out);
      }
    } else if (out.length < 40) {
      out.push([prefix || 'value', plain(value)]);
    }
    return out;
  }

  // -- robot cards --------------------------------------------------------------------------

  function card(id) {
    let c = cards.get(id);
    if (c) return c;
    const root = $('robot-template').content.firstElementChild.cloneNode(true);
    const parts = {};
    for (const node of root.querySelectorAll('[data-role]')) parts[node.dataset.role] = node;
    c = {id, root, parts, record: {}, view: {}, lastHeartbeat: null, history: [],
      capabilities: '', logs: [], commands: new Map(), minLevel: 0};
    root.dataset.robotId = id;
    parts.id.textContent = id;
    parts.form.addEventListener('submit', (event) => {
      event.preventDefault();
      submitFreeform(c);
    });
    parts['log-filter'].addEventListener('change', () => {
      c.minLevel = LEVELS.get(parts['log-filter'].value) ?? 0;
      for (const line of c.logs) line.hidden = Number(line.dataset.rank) < c.minLevel;
    });
    for (const role of ['hub-start', 'hub-stop', 'hub-restart', 'hub-reboot']) {
      const button = parts[role];
      button.addEventListener('click', () => sendCommand(c, button.dataset.action, {},
        button.dataset.path));
    }
    cards.set(id, c);
    $('robots').append(root);
    $('empty').hidden = true;
    return c;
  }

  // Where RobotCard.vue itself would throw while rendering this record (a broken card).
  function renderProblems(record) {
    const problems = [];
    if (record.status != null && typeof record.status.toLowerCase !== 'function') {
      problems.push(`status is ${JSON.stringify(record.status)}, not text (status.toLowerCase)`);
    }
    if (record.name != null && typeof record.name.slice !== 'function') {
      problems.push(`name is ${JSON.stringify(record.name)}, not text (name.slice)`);
    }
    return problems;
  }

  function renderHubCard(c, record) {  // RobotCard.vue's template, key for key
    const p = c.parts;
    const problems = renderProblems(record);
    p['card-warning'].textContent = problems.length === 0 ? ''
      : `The hub's robot card fails to render this record: ${problems.join('; ')}.`;
    p['card-warning'].hidden = problems.length === 0;
    const avatar = typeof record.name?.slice === 'function' ? record.name.slice(-3) : null;
    p.avatar.textContent = vueText(avatar || 'BOT');
    p.name.textContent = vueText(record.name || 'Unknown Robot');
    p.location.textContent = vueText(record.location || 'Unknown');

    const level = record.battery_level;
    p.battery.textContent = `${vueText(level || 0)}%`;
    p['battery-tile'].classList.toggle('low', level < 20);
    p['battery-tile'].classList.toggle('critical', level < 10);
    const width = level || 0;
    p['battery-fill'].style.width = '';  // CSSOM, never markup; a bad value leaves the default
    if (typeof width === 'number') p['battery-fill'].style.width = `${width}%`;
    c.root.dataset.lowBattery = String(record.battery < 20);
    p['cpu-temp'].textContent =
      `${vueText(record.cpu_usage || 0)}% / ${vueText(record.temperature || 0)}°C`;
    p.memory.textContent = `${vueText(record.memory_usage || 0)}%`;
    p.oak.textContent = record.oak_camera_connected ? 'OAK' : 'No OAK';
    p.oak.classList.toggle('connected', Boolean(record.oak_camera_connected));
    p.create3.textContent = record.create3_connected ? 'Create3' : 'No Create3';
    p.create3.classList.toggle('connected', Boolean(record.create3_connected));
    const running = record.workspace_status === 'running';
    p.workspace.textContent = running ? 'Running' : 'Stopped';
    p.workspace.dataset.running = String(running);
    p.uptime.textContent = formatUptime(record.uptime_seconds);
    // The card's buttons, disabled as it disables them ('OFFLINE' in capitals, as there).
    const offline = record.status === 'OFFLINE';
    p['hub-start'].disabled = offline || record.workspace_status === 'running';
    p['hub-stop'].disabled = offline || record.workspace_status === 'stopped';
    p['hub-restart'].disabled = offline || !record.create3_connected;
    p['hub-reboot'].disabled = offline || !record.create3_connected;
  }

  function renderView(c, view) {  // what the local hub knows beside the record
    const p = c.parts;
    p.zombie.textContent = view.zombie == null ? ''
      : `The hub no longer reads this robot's socket (${plain(view.zombie)}). The real hub ` +
        'keeps showing it online with these values; every command answers 500.';
    p.zombie.hidden = view.zombie == null;
    p['api-error'].textContent = view.api_error == null ? ''
      : `GET /api/robots answers 500 while this record holds a value JSON cannot carry ` +
        `(${plain(view.api_error)}): the hub's pages show no robot at all.`;
    p['api-error'].hidden = view.api_error == null;
    c.root.dataset.zombie = String(view.zombie != null);
  }

  function updateRobot(id, record, view) {
    if (!record || typeof record !== 'object' || !id) return;
    const c = card(id);
    const p = c.parts;
    c.record = record;
    c.view = view && typeof view === 'object' ? view : {};
    const status = vueText(record.status || 'UNKNOWN');
    p.status.textContent = status;
    p.status.dataset.kind = LIVE_STATUSES.has(status) ? 'live'
      : status.toLowerCase() === 'offline' ? 'offline' : 'other';
    c.root.dataset.status = status;

    const beat = isNum(record.last_heartbeat) ? record.last_heartbeat : null;
    if (beat !== null && beat !== c.lastHeartbeat) {
      c.history.push({t: now(), cpu: isNum(record.cpu_usage) ? record.cpu_usage : null,
        battery: isNum(record.battery_level) ? record.battery_level : null});
    }
    c.lastHeartbeat = beat;
    c.root.dataset.lastHeartbeat = beat === null ? '' : String(beat);

    renderHubCard(c, record);
    renderView(c, c.view);
    const info = c.view.system_info && typeof c.view.system_info === 'object'
      ? c.view.system_info : {};
    const host = [record.hostname, record.ip_address,
      info.bridge_version == null ? null : `bridge ${plain(info.bridge_version)}`];
    p.host.textContent = host.filter((v) => v !== null && v !== undefined).map(plain).join(' · ');
    p.host.title = Object.entries(info).map(([k, v]) => `${k}: ${plain(v)}`).join('\n');

    renderSources(c, record.sources);
    keyValues(p.facts, Object.entries(record)
      .filter(([key]) => !SHOWN.has(key))
      .map(([key, v]) => [LABELS.get(key) ?? key, fact(key, v)]));
    renderButtons(c, Array.isArray(record.capabilities) ? record.capabilities.map(String) : []);
    renderAge(c);
    drawSparks(c);
  }

  function fact(key, value) {  // one flat robot_status value, with its unit
    if (!isNum(value)) return plain(value);
    if (DURATIONS.has(key)) return duration(value);
    if (key.includes('bytes')) return `${(value / 1e6).toFixed(1)} MB`;
    return plain(value) + (UNITS.get(key) ?? '');
  }

  function renderSources(c, sources) {
    const list = c.parts.sources;
    list.replaceChildren();
    const entries = sources && typeof sources === 'object' ? Object.entries(sources) : [];
    if (entries.length === 0) list.append(el('li', 'none muted', 'none reported'));
    for (const [name, source] of entries) {
      const s = source && typeof source === 'object' ? source : {};
      const item = el('li', s.stale ? 'source stale' : 'source');
      item.dataset.testid = 'source';
      item.dataset.stale = String(Boolean(s.stale));
      const head = el('div', 'source-head');
      head.append(el('span', 'source-name', name), el('code', 'topic', plain(s.topic) ?? ''));
      const age = isNum(s.age_s) ? `${s.age_s.toFixed(1)} s ago` : 'never';
      head.append(el('span', 'age', s.stale ? `stale · ${age}` : age));
      if (isNum(s.count)) head.append(el('span', 'count muted', `${s.count} msgs`));
      item.append(head);
      if (s.data === null || s.data === undefined) {
        item.append(el('div', 'nodata missing', '— no data'));
      } else {
        const data = el('dl', 'source-data');
        keyValues(data, flatten(s.data));
        item.append(data);
      }
      list.append(item);
    }
  }

  function renderButtons(c, capabilities) {
    const key = JSON.stringify(capabilities);
    if (key === c.capabilities) return;  // keep the same buttons under the pointer
    c.capabilities = key;
    c.parts.buttons.replaceChildren();
    if (capabilities.length === 0) c.parts.buttons.append(el('span', 'muted', 'none announced'));
    for (const action of capabilities) {
      const button = el('button', 'cap', action);
      button.type = 'button';
      button.dataset.testid = 'command-button';
      button.dataset.action = action;
      button.addEventListener('click', () => sendCommand(c, action, {}));
      c.parts.buttons.append(button);
    }
  }

  function renderAge(c) {
    const beat = c.parts.beat;
    if (c.lastHeartbeat === null) {
      beat.textContent = 'no heartbeat yet';
      return;
    }
    const age = Math.max(0, now() - c.lastHeartbeat);
    beat.textContent = `heartbeat ${age < 60 ? `${Math.floor(age)} s` : duration(age)} ago`;
    beat.classList.toggle('late', age > 90);
  }

  function drawSparks(c) {  // the last 5 minutes (at least 20 s wide while history is short)
    const t = now();
    while (c.history.length && c.history[0].t < t - HISTORY_S) c.history.shift();
    const first = c.history.length ? c.history[0].t : t;
    const span = Math.min(HISTORY_S, Math.max(20, t - first));
    const width = span < 60 ? `${Math.round(span)} s` : `${Math.round(span / 60)} min`;
    const caption = `· last ${width}`;
    c.parts['cpu-span'].textContent = c.parts['battery-span'].textContent = caption;
    const cpuMax = Math.min(100, Math.max(10, ...c.history.map((h) => (h.cpu ?? 0) * 1.2)));
    drawSpark(c.parts['spark-cpu'], c.history, 'cpu', cpuMax, t - span, span);
    drawSpark(c.parts['spark-battery'], c.history, 'battery', 100, t - span, span);
  }

  function drawSpark(svg, history, key, max, t0, span) {
    const W = 200, H = 36;
    let line = '', area = '', segment = [];
    const flush = () => {
      if (segment.length === 0) return;
      line += segment.map(([x, y], i) => `${i ? 'L' : 'M'}${x},${y}`).join('');
      area += `M${segment[0][0]},${H}` + segment.map(([x, y]) => `L${x},${y}`).join('') +
        `L${segment[segment.length - 1][0]},${H}Z`;
      segment = [];
    };
    for (const h of history) {
      if (h[key] === null) {
        flush();
        continue;
      }
      const x = ((h.t - t0) / span * W).toFixed(1);
      const y = (H - 2 - Math.min(1, h[key] / max) * (H - 4)).toFixed(1);
      segment.push([x, y]);
    }
    flush();
    svg.querySelector('.line').setAttribute('d', line);
    svg.querySelector('.area').setAttribute('d', area);
    svg.dataset.points = String(history.filter((h) => h[key] !== null).length);
  }

  // -- logs ---------------------------------------------------------------------------------

  function addLog(c, log) {
    const entry = log && typeof log === 'object' ? log : {message: log};
    const level = entry.level === undefined ? 'INFO' : String(entry.level);  // hub default
    const rank = LEVELS.get(level.toLowerCase()) ?? LEVELS.get('info');
    const line = el('li', 'log');
    line.dataset.testid = 'log-line';
    line.dataset.rank = String(rank);
    line.dataset.level = rank >= 40 ? 'error' : rank >= 30 ? 'warn'
      : rank >= 20 ? 'info' : 'debug';
    const message = el('span', 'message', plain(entry.message) ?? '');
    message.dataset.testid = 'log-message';
    line.append(el('time', '', clock(entryTime(entry))), el('span', 'level', level), message);
    const origin = entry.logger ?? entry.source;
    if (origin != null) line.append(el('span', 'origin muted', plain(origin)));
    line.hidden = rank < c.minLevel;
    c.parts.logs.prepend(line);
    c.logs.unshift(line);
    while (c.logs.length > MAX_LOGS) c.logs.pop().remove();
    const count = c.logs.length;
    c.parts['log-count'].textContent = `${count} ${count === 1 ? 'line' : 'lines'}`;
  }

  // -- commands -----------------------------------------------------------------------------

  function commandEntry(c, commandId) {
    let entry = c.commands.get(commandId);
    if (entry) return entry;
    const item = el('li', 'response');
    item.dataset.testid = 'response';
    item.dataset.commandId = commandId;
    const head = el('div', 'response-head');
    const state = el('span', 'state');
    const action = el('code', 'action');
    const id = el('code', 'command-id', commandId);
    id.title = commandId;
    id.dataset.testid = 'response-command-id';
    const latency = el('span', 'latency');
    latency.dataset.testid = 'response-latency';
    head.append(state, action, id, latency);
    const message = el('div', 'message');
    message.dataset.testid = 'response-message';
    const details = el('details');
    const data = el('pre', 'data');
    data.dataset.testid = 'response-data';
    details.append(el('summary', '', 'data'), data);
    details.hidden = true;
    item.append(head, message, details);
    entry = {item, state, action, latency, message, details, data, sentAt: null,
      receivedAt: null, response: null, name: null};
    c.commands.set(commandId, entry);
    c.parts.responses.prepend(item);
    while (c.commands.size > MAX_RESPONSES) {
      const [oldest, old] = c.commands.entries().next().value;
      old.item.remove();
      c.commands.delete(oldest);
    }
    return entry;
  }

  function renderEntry(entry) {
    const response = entry.response;
    // An answer `reason: expired` is a command that arrived too old and never ran.
    const expired = response && response.data && response.data.reason === 'expired';
    const kind = !response ? 'pending' : response.success === true ? 'ok'
      : expired ? 'expired' : 'failed';
    entry.item.dataset.state = kind;
    entry.state.textContent = expired ? 'expired, not run' : kind;
    entry.action.textContent = entry.name ?? '(not from this page)';
    if (entry.sentAt !== null && entry.receivedAt !== null) {
      entry.latency.textContent = `${Math.round(entry.receivedAt - entry.sentAt)} ms`;
    } else {
      entry.latency.textContent = response ? 'latency unknown' : 'waiting…';
    }
    if (!response) return;
    const data = response.data && typeof response.data === 'object' ? response.data : {};
    entry.message.textContent = plain(data.message ?? data.error ?? data.detail) ?? '';
    const text = JSON.stringify(response.data ?? null, null, 2) ?? '';
    entry.data.textContent = text.length > 4000 ? `${text.slice(0, 4000)}\n…` : text;
    entry.details.hidden = false;
  }

  function showError(c, text) {
    c.parts.error.textContent = text;
    c.parts.error.hidden = !text;
  }

  // POST /command with {action, parameters}, or one of the hub's fixed endpoints (`path`).
  async function sendCommand(c, action, parameters, path = 'command') {
    const started = performance.now();
    showError(c, '');
    let response, body = null;
    try {
      response = await fetch(`/api/robots/${encodeURIComponent(c.id)}/${path}`, {
        method: 'POST', headers: {'Content-Type': 'application/json'},
        body: path === 'command' ? JSON.stringify({action, parameters}) : undefined});
      body = await response.json().catch(() => null);
    } catch (err) {
      showError(c, `${action}: request failed (${err.message})`);
      return;
    }
    if (!response.ok || !body || typeof body.command_id !== 'string') {
      const detail = body && body.detail !== undefined ? plain(body.detail) : response.statusText;
      showError(c, `${action}: HTTP ${response.status}: ${detail}`);
      return;
    }
    // The response may already be here: the socket can beat the POST's answer.
    const entry = commandEntry(c, body.command_id);
    entry.name = action;
    entry.sentAt = started;
    renderEntry(entry);
  }

  function submitFreeform(c) {
    const form = c.parts.form;
    const action = form.elements.action.value.trim();
    const text = form.elements.parameters.value.trim();
    if (!action) {
      showError(c, 'action is required');
      return;
    }
    let parameters = {};
    if (text) {
      try {
        parameters = JSON.parse(text);
      } catch (err) {
        showError(c, `parameters are not valid JSON: ${err.message}`);
        return;
      }
      if (!parameters || typeof parameters !== 'object' || Array.isArray(parameters)) {
        showError(c, 'parameters must be a JSON object, e.g. {"lines": 20}');
        return;
      }
    }
    sendCommand(c, action, parameters);
  }

  function onResponse(message) {
    if (message.agent_id == null) return;
    const c = card(String(message.agent_id));
    const entry = commandEntry(c, String(message.command_id ?? ''));
    entry.response = message;
    entry.receivedAt = performance.now();
    renderEntry(entry);
  }

  // -- the hub socket -----------------------------------------------------------------------

  const link = {socket: null, attempts: 0, connectedOnce: false, reconnects: 0, last: null};

  function setConnection(state, text) {
    document.body.dataset.hub = state;
    $('connection').dataset.state = state;
    $('connection-text').textContent = text;
    const counter = $('reconnects');
    counter.dataset.count = String(link.reconnects);
    counter.textContent = link.reconnects === 0 ? ''
      : `reconnected ${link.reconnects} ${link.reconnects === 1 ? 'time' : 'times'}, ` +
        `last at ${clock(link.last)}`;
  }

  function handle(message) {
    if (!message || typeof message !== 'object') return;
    if (message.type === 'robots' && message.robots && typeof message.robots === 'object') {
      const known = new Set(Object.keys(message.robots));
      for (const [id, robot] of Object.entries(message.robots)) {
        if (!robot || typeof robot !== 'object') continue;
        updateRobot(id, robot.data, robot.devhub);
        const c = cards.get(id);
        if (c && c.logs.length === 0 && Array.isArray(robot.logs)) {
          for (const log of robot.logs.slice(-MAX_LOGS)) addLog(c, log);
        }
      }
      for (const c of cards.values()) {  // robots the hub no longer knows (it restarted)
        if (!known.has(c.id)) {
          updateRobot(c.id, {...c.record, status: 'offline'}, {...c.view, zombie: null});
        }
      }
    } else if (message.type === 'robot_update' && message.robot_id != null) {
      updateRobot(String(message.robot_id), message.data, message.devhub);
    } else if (message.type === 'command_response') {
      onResponse(message);
    } else if (message.type === 'log_message' && message.data && message.data.robot_id != null) {
      addLog(card(String(message.data.robot_id)), message.data);
    }
  }

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${location.host}/ws/devhub`);
    link.socket = socket;
    setConnection(link.connectedOnce ? 'reconnecting' : 'connecting',
      link.connectedOnce ? 'reconnecting…' : 'connecting…');
    const openTimer = setTimeout(() => socket.close(), OPEN_TIMEOUT_MS);
    socket.onopen = () => {
      clearTimeout(openTimer);
      if (link.connectedOnce) {
        link.reconnects += 1;
        link.last = now();
      }
      link.connectedOnce = true;
      link.attempts = 0;
      setConnection('connected', 'connected');
    };
    socket.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      try {
        handle(message);
      } catch (err) {
        console.error('dashboard: cannot show a message', err);
      }
    };
    socket.onclose = () => {
      clearTimeout(openTimer);
      if (link.socket !== socket) return;
      const delay = BACKOFF_MS[Math.min(link.attempts, BACKOFF_MS.length - 1)];
      link.attempts += 1;
      setConnection('disconnected', `disconnected, retrying in ${(delay / 1000).toFixed(1)} s`);
      setTimeout(connect, delay);
    };
  }

  $('hub-address').textContent = location.host;
  setInterval(() => {
    for (const c of cards.values()) {
      renderAge(c);
      drawSparks(c);
    }
  }, 1000);
  connect();
})();
