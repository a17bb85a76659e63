// tributary status page. Plain browser JavaScript, no build step, no library, nothing off the gateway.
//
// Every POLL_MS it reads /api/v1/status (same origin: the browser re-sends the page's own http.auth
// credentials), and nothing else. A failed or slow read marks the page stale (banner + dimmed) and the next poll tries again: when
// the gateway answers, the page is live again without a reload.
//
// With a bearer token in http.auth, a browser has no way to send it on navigation: the gateway serves
// these files without credentials (they hold nothing secret), and when /api/v1/status answers 401 with a
// Bearer challenge the page asks for the token once, keeps it in sessionStorage (this tab only, gone
// when it closes) and sends it as `Authorization: Bearer` on its polls. A refused token is forgotten and
// asked for again; while the page waits for one it does not poll (each refusal is logged by the gateway).
//
// Every figure comes from the report, drain rate, time to drain and flash wear included (src/ops/status.ts
// computes them); kept here are only the last 10 minutes of ingest rates, for the sparklines. Everything
// is written with textContent, never innerHTML: stream names and error messages come from the network.
'use strict';

const POLL_MS = 2000;
const TIMEOUT_MS = 5000;
const HISTORY_MS = 10 * 60 * 1000;
const SPARK_W = 300;
const SPARK_H = 40;

const TOKEN_KEY = 'tributary.bearerToken';

const history = []; // { at, recordsPerSec, bytesPerSec }
let lastOkAt = null;

const $ = (id) => document.getElementById(id);
const num = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const num1 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

function fmtInt(n) { return n === null || n === undefined ? '–' : num.format(n); }
function fmtRate(n) { return n < 10 ? num1.format(n) : num.format(n); }
function fmtBytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? num.format(v) : num1.format(v)} ${units[i]}`;
}
function fmtSeconds(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  if (s < 60) return `${num1.format(s)} s`;
  if (s < 3600) return `${num.format(Math.floor(s / 60))} min ${num.format(Math.round(s % 60))} s`;
  if (s < 86400) return `${num.format(Math.floor(s / 3600))} h ${num.format(Math.round((s % 3600) / 60))} min`;
  return `${num.format(Math.floor(s / 86400))} d ${num.format(Math.round((s % 86400) / 3600))} h`;
}
function text(id, value) { const el = $(id); if (el.textContent !== value) el.textContent = value; }
function el(tag, cls, content) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (content !== undefined) e.textContent = content;
  return e;
}

class AuthNeeded extends Error {}

function storedToken() {
  try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; }
}

async function getText(path) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
  const token = storedToken();
  const headers = token === null ? {} : { Authorization: `Bearer ${token}` };
  try {
    const res = await fetch(path, { cache: 'no-store', credentials: 'same-origin', headers, signal: ctl.signal });
    if (res.status === 401 && /\bBearer\b/i.test(res.headers.get('WWW-Authenticate') || '')) throw new AuthNeeded(token === null ? '' : 'the gateway refused that token');
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return await res.text();
  } finally {
    clearTimeout(timer);
  }
}

function askToken(why) {
  try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* storage off: the token is asked again */ }
  const conn = $('conn');
  conn.dataset.state = 'login';
  conn.textContent = 'this gateway needs its HTTP bearer token';
  text('login-error', why);
  $('login').hidden = false;
  $('token').focus();
}

function tokenGiven(event) {
  event.preventDefault(); // form-action 'none': the form never submits, the script takes the token
  const value = $('token').value.trim();
  if (value === '') return;
  try { sessionStorage.setItem(TOKEN_KEY, value); } catch { /* private mode without storage */ }
  $('token').value = '';
  $('login').hidden = true;
  void pollStatus();
}

function setConnection(ok, why) {
  const conn = $('conn');
  if (ok) {
    conn.dataset.state = 'live';
    conn.textContent = 'live';
    document.body.classList.remove('stale');
    return;
  }
  conn.dataset.state = 'stale';
  const since = lastOkAt === null ? 'never loaded' : `last update ${new Date(lastOkAt).toLocaleTimeString()}`;
  conn.textContent = `stale: ${why}; ${since}; retrying every ${POLL_MS / 1000} s`;
  document.body.classList.add('stale');
}

function byReason(list, label, value) {
  const nonzero = list.filter((x) => x[value] > 0);
  if (nonzero.length === 0) return 'none';
  return nonzero.map((x) => `${label(x)}: ${fmtInt(x[value])}`).join(', ');
}

function remember(report, now) {
  history.push({ at: now, recordsPerSec: report.ingest.recordsPerSec, bytesPerSec: report.ingest.bytesPerSec });
  while (history.length > 2 && history[0].at < now - HISTORY_MS) history.shift();
}

function spark(id, key) {
  const svg = $(id);
  const now = history[history.length - 1].at;
  // Until 10 minutes are kept, the line spans what there is rather than a sliver at the right edge.
  const spanMs = Math.max(1, Math.min(HISTORY_MS, now - history[0].at));
  const max = Math.max(1, ...history.map((h) => h[key]));
  const points = history.map((h) => `${(((h.at - (now - spanMs)) / spanMs) * SPARK_W).toFixed(1)},${(SPARK_H - 1 - (h[key] / max) * (SPARK_H - 2)).toFixed(1)}`).join(' ');
  let line = svg.firstElementChild;
  if (line === null) {
    line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    svg.appendChild(line);
  }
  line.setAttribute('points', points);
  svg.dataset.max = String(max);
  svg.setAttribute('aria-label', `${key === 'bytesPerSec' ? 'bytes/s' : 'msg/s'}, last ${fmtSeconds(spanMs / 1000)}, peak ${fmtRate(max)}`);
}

function renderHealth(health) {
  const list = $('health');
  list.replaceChildren(...health.checks.map((c) => {
    const li = el('li', c.ok ? 'ok' : 'bad');
    li.dataset.check = c.name;
    li.dataset.ok = String(c.ok);
    li.append(el('span', 'name', c.name), el('span', 'message', c.message));
    return li;
  }));
  text('overall', `health ${health.status}`);
  $('overall').className = health.status === 'ok' ? '' : 'bad-text';
}

function cells(tr, values) {
  for (const v of values) tr.append(el('td', null, v));
  return tr;
}

function renderStreams(streams) {
  const rows = [];
  for (const s of streams) {
    const total = cells(el('tr', 'total'), [s.stream, `${s.partitions.length}`, '', '', fmtInt(s.records), fmtBytes(s.bytes), fmtInt(s.lagRecords), fmtSeconds(s.lagSeconds)]);
    total.dataset.stream = s.stream;
    total.dataset.records = String(s.records);
    total.dataset.lagRecords = String(s.lagRecords);
    rows.push(total);
    for (const p of s.partitions) {
      const tr = cells(el('tr', 'part'), [`  ${s.stream}`, `${p.partition}`, fmtInt(p.startOffset), fmtInt(p.endOffset), fmtInt(p.records), fmtBytes(p.bytes), fmtInt(p.lagRecords), fmtSeconds(p.lagSeconds)]);
      tr.dataset.stream = s.stream;
      tr.dataset.partition = String(p.partition);
      rows.push(tr);
    }
  }
  $('streams').tBodies[0].replaceChildren(...rows);
}

const UPSTREAM_WORDS = { connecting: 'connecting…', online: 'up', degraded: 'degraded', offline: 'down', disabled: 'not configured' };
const REFUSAL_WORDS = { authentication: 'authentication failed', tls: 'TLS verification failed' };
const BADGE = { online: 'ok', disabled: 'muted', connecting: 'muted' };

function renderUpstream(up, streams) {
  const badge = $('upstream-state');
  text('upstream-state', up.refusal ? REFUSAL_WORDS[up.refusal] || up.refusal : UPSTREAM_WORDS[up.state] || up.state);
  badge.dataset.state = up.state;
  badge.dataset.refusal = up.refusal || '';
  badge.className = `badge ${BADGE[up.state] || 'bad'}`;
  text('upstream-brokers', up.brokers.length === 0 ? 'none' : up.brokers.join(', '));
  text('upstream-error', up.lastError || 'none');
  const backlog = up.backlogRecords;
  $('backlog').dataset.records = String(backlog);
  if (backlog === null) {
    for (const id of ['backlog', 'drain-rate', 'drain-time']) text(id, '–');
    return;
  }
  const oldest = Math.max(0, ...streams.map((x) => x.lagSeconds || 0));
  text('backlog', `${fmtInt(backlog)} records, oldest ${fmtSeconds(oldest)}`);
  text('drain-rate', up.drainRecordsPerSec === null ? '–' : `${fmtRate(up.drainRecordsPerSec)} records/s`);
  const growth = up.backlogGrowthRecordsPerSec;
  text('drain-time', up.drainSeconds !== null ? fmtSeconds(up.drainSeconds) : growth === null ? '–' : `not draining (backlog ${growth >= 0 ? '+' : ''}${fmtRate(growth)}/s)`);
  $('drain-time').dataset.seconds = String(up.drainSeconds);
}

function renderStorage(st) {
  text('log-bytes', `${fmtBytes(st.logBytes)} of ${fmtBytes(st.maxBytes)} (storage.maxBytes)`);
  $('log-meter').max = st.maxBytes;
  $('log-meter').value = st.logBytes;
  text('data-file', fmtBytes(st.dataFileBytes));
  const low = st.diskFreeBytes !== null && st.diskFreeBytes < st.diskFreeMinBytes;
  text('disk-free', `${fmtBytes(st.diskFreeBytes)} (floor ${fmtBytes(st.diskFreeMinBytes)})`);
  $('disk-free').className = low ? 'bad-text' : '';
  text('write-amp', st.writeAmplification === null ? '–' : `${num1.format(st.writeAmplification)}× payload bytes`);
  text('wear', st.wearBytesPerDay === null ? '–' : `${fmtBytes(st.wearBytesPerDay)}/day written at the current rate`);
  text('dropped', byReason(st.dropped || [], (x) => `${x.stream} ${x.reason}`, 'records'));
}

function renderHost(h) {
  if (h === null) {
    for (const id of ['mem', 'cpu', 'temp']) text(id, 'not sampled yet');
    return;
  }
  const used = h.memTotalBytes - h.memAvailableBytes;
  text('mem', `${fmtBytes(used)} used of ${fmtBytes(h.memTotalBytes)} (${fmtBytes(h.memAvailableBytes)} available)`);
  $('mem-meter').value = h.memTotalBytes > 0 ? used / h.memTotalBytes : 0;
  text('cpu', `${num1.format(h.cpuLoadPercent)} %`);
  text('temp', h.cpuTemperatureCelsius === null ? 'no sensor' : `${num1.format(h.cpuTemperatureCelsius)} °C`);
}

function renderDevices(b) {
  const dl = $('devices');
  if (b === null || b === undefined) {
    dl.replaceChildren(el('dt', null, 'devices'), el('dd', null, 'no firmware bridge configured'));
    return;
  }
  const rows = [['awake', b.active], ['asleep', b.asleep], ['connecting', b.connecting], ['lost (total)', b.lost]];
  dl.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', null, k), el('dd', null, fmtInt(v || 0))]));
}

// Kafka's classic group states, as an operator would say them.
const GROUP_WORDS = { Stable: 'stable', PreparingRebalance: 'rebalancing', CompletingRebalance: 'rebalancing', Empty: 'empty', Dead: 'gone' };
const GROUP_BADGE = { Stable: 'ok', Empty: 'muted' };

function renderKafka(k) {
  // Absent from an older gateway's report, null without a kafkaApi section: no section at all.
  $('kafka-section').hidden = k === null || k === undefined;
  if ($('kafka-section').hidden) return;
  text('kafka-listeners', `listening on ${k.listeners.map((l) => `${l.host}:${l.port}${l.sasl ? ' SASL' : ''}${l.tls ? ' TLS' : ''}`).join(', ') || 'nothing'}`);
  const rows = [];
  for (const g of k.groups) {
    const state = el('td');
    state.append(el('span', `badge ${GROUP_BADGE[g.state] || 'warn'}`, GROUP_WORDS[g.state] || g.state), ` ${fmtInt(g.members)} member${g.members === 1 ? '' : 's'}`);
    const total = cells(el('tr', 'total'), [g.group]);
    total.append(state);
    cells(total, [g.lagRecords === null ? 'nothing committed' : '', fmtInt(g.lagRecords)]);
    Object.assign(total.dataset, { group: g.group, state: g.state, members: String(g.members), lagRecords: String(g.lagRecords) });
    rows.push(total);
    for (const p of g.partitions) {
      const tr = cells(el('tr', 'part'), [`  ${p.stream}/${p.partition}`, '', fmtInt(p.committedOffset), fmtInt(p.lagRecords)]);
      Object.assign(tr.dataset, { group: g.group, stream: p.stream, partition: String(p.partition), lagRecords: String(p.lagRecords) });
      rows.push(tr);
    }
  }
  if (rows.length === 0) {
    const none = el('td', null, 'no consumer group yet');
    none.colSpan = 4;
    rows.push(el('tr'));
    rows[0].append(none);
  }
  $('kafka-groups').tBodies[0].replaceChildren(...rows);
}

function render(report) {
  text('gateway', report.gateway);
  text('version', `v${report.version}`);
  text('uptime', fmtSeconds(report.uptimeSeconds));
  renderHealth(report.health);
  const ing = report.ingest;
  text('msg-rate', `${fmtRate(ing.recordsPerSec)} msg/s`);
  text('byte-rate', `${fmtBytes(ing.bytesPerSec)}/s`);
  $('msg-rate').dataset.value = String(ing.recordsPerSec);
  text('clients', fmtInt(ing.clients));
  text('ingest-total', `${fmtInt(ing.recordsTotal)} records, ${fmtBytes(ing.bytesTotal)}`);
  text('rejected', byReason(ing.rejected || [], (x) => x.reason, 'publishes'));
  spark('msg-spark', 'recordsPerSec');
  spark('byte-spark', 'bytesPerSec');
  renderStreams(report.streams);
  renderUpstream(report.upstream, report.streams);
  renderStorage(report.storage);
  renderHost(report.host);
  renderDevices(report.bridge);
  renderKafka(report.kafkaApi);
}

async function pollStatus() {
  let again = true;
  try {
    const report = JSON.parse(await getText('api/v1/status'));
    const now = Date.now();
    remember(report, now);
    lastOkAt = now;
    render(report);
    setConnection(true);
  } catch (err) {
    if (err instanceof AuthNeeded) {
      again = false; // until a token is given
      askToken(err.message);
    } else {
      setConnection(false, err.name === 'AbortError' ? 'no answer' : err.message);
    }
  } finally {
    if (again) setTimeout(pollStatus, POLL_MS);
  }
}

$('login').addEventListener('submit', tokenGiven);
void pollStatus();
