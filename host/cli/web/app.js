// The dashboard of zerog serve: queues, the last hour's runs, workers, jobs (filtered, paged, with
// live progress), a job's page, the actions, and a submit form built from each type's SCHEMA.
// It polls the daemon's JSON API once a second (the page itself needs no token; the API calls
// carry the one the user typed, kept in sessionStorage, asked again on a 401). Everything that
// comes from a job document or an event reaches the page as text (textContent, text nodes,
// attribute values), never as markup.
'use strict';
(() => {
  const TOKEN_KEY = 'zerog.token';
  const POLL_MS = 1000;
  const BULK_CAP = 1000;
  const PAGE_SIZE = 50;
  const STATES = ['waiting', 'delayed', 'running', 'buried', 'parked', 'succeeded', 'failed'];
  const $ = (id) => document.getElementById(id);

  // el('td', {class: 'x'}, 'text', child...): attributes are set as values, strings become text.
  function el(tag, props, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
    return e;
  }
  function setText(node, text) {
    const s = text === null || text === undefined ? '' : String(text);
    if (node.textContent !== s) node.textContent = s;
  }
  const short = (uuid) => String(uuid).slice(0, 8);
  const jobLink = (uuid) => el('a', { href: '#/job/' + encodeURIComponent(uuid), class: 'mono', title: uuid }, short(uuid));
  function clock(iso) {
    const t = new Date(iso);
    return isNaN(t) ? String(iso || '') : t.toLocaleTimeString([], { hour12: false });
  }
  function ago(iso) {
    const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    if (!isFinite(s)) return '';
    if (s < 60) return Math.max(s, 0) + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ago';
    if (s < 86400) return Math.floor(s / 3600) + 'h ago';
    return Math.floor(s / 86400) + 'd ago';
  }
  const mib = (bytes) => (bytes / 1048576).toFixed(1) + ' MiB';

  // ---- the API, with the token ----
  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let asking = null;
  let tokenAnswered = null;
  function askToken(why) {
    if (!asking) {
      asking = new Promise((resolve) => { tokenAnswered = resolve; });
      setText($('token-error'), why);
      $('token-input').value = '';
      $('token-dialog').showModal();
    }
    return asking;
  }
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    token = $('token-input').value.trim();
    sessionStorage.setItem(TOKEN_KEY, token);
    $('token-dialog').close();
    const answered = tokenAnswered;
    asking = null;
    if (answered) answered();
    refreshNow();
  });
  $('token-dialog').addEventListener('cancel', (e) => { if (asking) e.preventDefault(); });
  // the header's Token button: to change the token; unlike the ask after a 401, Escape closes it
  $('token-button').addEventListener('click', () => {
    if (asking) return;
    setText($('token-error'), '');
    $('token-input').value = '';
    $('token-dialog').showModal();
  });

  async function api(method, path, body) {
    for (;;) {
      const headers = {};
      if (token) headers.Authorization = 'Bearer ' + token;
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      if (r.status === 401) {
        await askToken(token ? 'That token was refused: try again.' : '');
        continue;
      }
      let data = null;
      try { data = await r.json(); } catch (err) { data = null; }
      return { status: r.status, ok: r.ok, data };
    }
  }
  const errorOf = (res) => (res.data && res.data.error) || ('HTTP ' + res.status);

  function notice(text) {
    const n = $('notice');
    if (!text) { n.hidden = true; return; }
    setText(n, text);
    n.hidden = false;
  }

  // ---- progress bars ----
  function bar() {
    return el('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100 }, el('span'), el('b'));
  }
  function setBar(b, fraction, state) {
    const pct = Math.round(Math.max(0, Math.min(1, Number(fraction) || 0)) * 100);
    if (b.getAttribute('aria-valuenow') !== String(pct)) {
      b.setAttribute('aria-valuenow', pct);
      b.firstChild.style.width = pct + '%';
      b.lastChild.textContent = pct + '%';
    }
    const cls = 'bar' + (state === 'failed' || state === 'buried' ? ' failed' : state === 'succeeded' ? ' done' : '');
    if (b.className !== cls) b.className = cls;
  }

  // Keeps a tbody's rows keyed (each row made once, then updated in place), in the items' order.
  function syncRows(tbody, items, keyOf, make, update) {
    const old = new Map();
    for (const tr of tbody.children) old.set(tr.dataset.key, tr);
    const rows = items.map((item) => {
      const key = keyOf(item);
      let tr = old.get(key);
      if (!tr) { tr = make(item); tr.dataset.key = key; }
      update(tr, item);
      return tr;
    });
    const same = rows.length === tbody.children.length && rows.every((r, i) => tbody.children[i] === r);
    if (!same) tbody.replaceChildren(...rows);
  }

  function setOptions(select, values) {
    const want = [''].concat(values);
    const have = Array.from(select.options, (o) => o.value);
    if (want.join('\n') === have.join('\n')) return;
    const chosen = select.value;
    select.replaceChildren(el('option', { value: '' }, 'any'), ...values.map((v) => el('option', { value: v }, v)));
    select.value = want.includes(chosen) ? chosen : '';
  }

  // ---- the overview ----
  const view = { state: '', type: '', queue: '', cursor: null, older: [], next: null, seq: 0, feed: [] };
  let types = [];
  let knownQueues = [];
  let knownTypes = [];

  function renderQueues(stats) {
    const queues = Object.keys(stats || {}).sort();
    knownQueues = queues;
    const typeSet = new Set(types.map((t) => t.jobType));
    const rows = queues.map((q) => {
      const sum = { queue: q };
      for (const s of STATES) sum[s] = 0;
      for (const [t, counts] of Object.entries(stats[q])) {
        typeSet.add(t);
        for (const s of STATES) sum[s] += counts[s] || 0;
      }
      return sum;
    });
    knownTypes = Array.from(typeSet).sort();
    syncRows($('queues').tBodies[0], rows, (r) => r.queue, (r) => {
      const kick = el('button', { type: 'button', class: 'kick', 'aria-label': 'Kick the buried jobs of ' + r.queue }, 'Kick buried');
      kick.addEventListener('click', () => kickQueue(r.queue));
      const name = el('a', { href: '#/' }, r.queue);
      name.addEventListener('click', (e) => { e.preventDefault(); setFilter({ queue: r.queue }); });
      return el('tr', { 'data-queue': r.queue }, el('td', null, name),
        ...['waiting', 'delayed', 'running', 'buried', 'parked', 'succeeded', 'failed'].map((s) =>
          el('td', { class: s === 'succeeded' || s === 'parked' ? 'num opt' : 'num', 'data-state': s })),
        el('td', null, kick));
    }, (tr, r) => {
      for (const td of tr.querySelectorAll('td[data-state]')) setText(td, r[td.dataset.state]);
      tr.querySelector('.kick').disabled = r.buried === 0;
    });
    if (!queues.length) setEmpty($('queues'), 'No queue yet: submit a job.');
    setOptions(document.querySelector('#filter [name=queue]'), knownQueues);
    setOptions(document.querySelector('#filter [name=type]'), knownTypes);
  }
  function setEmpty(table, text) {
    table.tBodies[0].replaceChildren(el('tr', null, el('td', { colspan: 9, class: 'muted' }, text)));
  }

  let chartText = '';
  function renderChart(minutes) {
    const text = JSON.stringify(minutes);
    if (text === chartText) return;
    chartText = text;
    const NS = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 600 100');
    svg.setAttribute('preserveAspectRatio', 'none');
    const max = Math.max(1, ...minutes.map((m) => m.done + m.failed));
    let done = 0;
    let failed = 0;
    minutes.forEach((m, i) => {
      done += m.done;
      failed += m.failed;
      const hd = (m.done / max) * 96;
      const hf = (m.failed / max) * 96;
      const g = document.createElementNS(NS, 'g');
      const title = document.createElementNS(NS, 'title');
      title.textContent = clock(new Date(m.at).toISOString()).slice(0, 5) + ': ' + m.done + ' done, ' + m.failed + ' failed';
      g.append(title);
      for (const [cls, y, h] of [['d', 100 - hd, hd], ['f', 100 - hd - hf, hf]]) {
        if (h <= 0) continue;
        const r = document.createElementNS(NS, 'rect');
        r.setAttribute('class', cls);
        r.setAttribute('x', i * 10 + 1);
        r.setAttribute('width', 8);
        r.setAttribute('y', y);
        r.setAttribute('height', h);
        g.append(r);
      }
      svg.append(g);
    });
    $('chart').replaceChildren(svg);
    setText($('chart-total'), done + ' done, ' + failed + ' failed in the last hour (every host that publishes events)');
  }

  function renderFeed(activity) {
    if (!activity) return;
    if (activity.seq < view.seq) view.seq = 0; // the daemon restarted
    const fresh = activity.events.filter((e) => e.seq > view.seq);
    view.seq = activity.seq;
    if (!fresh.length) return;
    const items = fresh.reverse().map(({ event: ev }) => {
      const what = ev.event === 'start' ? 'started' : ev.error ? 'failed' : ev.outcome === 'requeued' ? 'requeued' : 'done';
      return el('li', { class: what },
        el('span', { class: 't' }, clock(new Date(ev.at).toISOString())),
        el('span', { class: 'state ' + (what === 'failed' ? 'failed' : what === 'done' ? 'succeeded' : 'running') }, what),
        el('span', null, ev.jobType || ''), ev.uuid ? jobLink(ev.uuid) : null,
        ev.result !== undefined && ev.event === 'end' ? el('span', { class: 'muted' }, 'result ' + ev.result) : null);
    });
    const feed = $('feed');
    feed.prepend(...items);
    while (feed.children.length > 60) feed.lastChild.remove();
  }

  // One row per worker process, and one more for each further run in progress of a worker with
  // --threads (its first run is on its own row): keyed by the worker, then by the run's job.
  function workerRows(workers) {
    const rows = [];
    for (const w of workers || []) {
      const jobs = w.jobs || (w.job ? [w.job] : []);
      rows.push({ key: w.worker, w, job: jobs[0] || null, first: true });
      for (const j of jobs.slice(1)) rows.push({ key: w.worker + ' ' + j.uuid, w, job: j, first: false });
    }
    return rows;
  }

  function renderWorkers(workers, running) {
    syncRows($('workers').tBodies[0], workerRows(workers), (r) => r.key, () => {
      return el('tr', null, el('td', { class: 'mono' }), el('td', { class: 'opt' }), el('td', { class: 'opt mono' }),
        el('td', null, el('span', { class: 'state' })), el('td'), el('td', { class: 'wide' }, bar()),
        el('td', { class: 'num' }), el('td', { class: 'num opt' }));
    }, (tr, r) => {
      const td = tr.children;
      const w = r.w;
      const state = r.first ? w.state : 'running';
      setText(td[0], r.first ? w.worker : w.worker + ' ·');
      setText(td[1], w.host || '');
      setText(td[2], w.pid || '');
      setText(td[3].firstChild, state);
      td[3].firstChild.className = 'state ' + state;
      const uuid = r.job ? r.job.uuid : '';
      if (td[4].dataset.uuid !== uuid) {
        td[4].dataset.uuid = uuid;
        td[4].replaceChildren(uuid ? jobLink(uuid) : el('span', { class: 'muted' }, '—'));
      }
      const b = td[5].firstChild;
      b.hidden = !uuid;
      if (uuid) setBar(b, running.get(uuid) || 0, 'running');
      setText(td[6], r.first ? w.jobsDone : '');
      setText(td[7], r.first ? mib(w.rssBytes || 0) : '');
      tr.dataset.worker = w.worker;
    });
  }

  function jobsQuery(extra) {
    const p = new URLSearchParams();
    if (view.state) p.set('state', view.state);
    if (view.type) p.set('type', view.type);
    if (view.queue) p.set('queue', view.queue);
    for (const [k, v] of Object.entries(extra || {})) if (v !== null && v !== undefined) p.set(k, v);
    return p.toString();
  }

  let jobsShown = false;
  function renderJobs(page) {
    view.next = page.next;
    $('next-page').disabled = !page.next;
    $('first-page').disabled = !view.cursor;
    syncRows($('jobs').tBodies[0], page.jobs, (j) => j.uuid, (j) => {
      return el('tr', { 'data-uuid': j.uuid }, el('td', null, jobLink(j.uuid)), el('td'), el('td', { class: 'opt' }),
        el('td', null, el('span', { class: 'state' })), el('td', { class: 'wide' }, bar()),
        el('td', { class: 'opt num' }), el('td', { class: 'opt' }), el('td', { class: 'opt err' }));
    }, (tr, j) => {
      const td = tr.children;
      setText(td[1], j.type);
      setText(td[2], j.queue);
      setText(td[3].firstChild, j.state);
      td[3].firstChild.className = 'state ' + j.state;
      tr.dataset.state = j.state;
      setBar(td[4].firstChild, j.completeness, j.state);
      setText(td[5], j.resultCode === null ? '' : j.resultCode);
      setText(td[6], ago(j.updatedAt));
      td[6].title = j.updatedAt;
      setText(td[7], j.lastError || '');
      td[7].title = j.lastError || '';
    });
    if (!page.jobs.length) setEmpty($('jobs'), 'No job matches.');
    setText($('jobs-note'), page.jobs.length + ' shown' + (view.cursor ? ' (older page)' : ''));
    if (!jobsShown) {
      jobsShown = true;
      performance.mark('zerog-jobs-shown');
      document.documentElement.dataset.ready = 'true';
    }
  }

  async function refreshOverview() {
    const [stats, workers, activity, jobs, running, health] = await Promise.all([
      api('GET', '/stats'), api('GET', '/workers'), api('GET', '/activity?after=' + view.seq),
      api('GET', '/jobs?' + jobsQuery({ limit: PAGE_SIZE, cursor: view.cursor })),
      api('GET', '/jobs?state=running&limit=1000'), api('GET', '/health')]);
    if (stats.ok) renderQueues(stats.data);
    const progress = new Map();
    if (running.ok) for (const j of running.data.jobs) progress.set(j.uuid, j.completeness);
    if (workers.ok) renderWorkers(workers.data, progress);
    if (activity.ok) {
      renderChart(activity.data.minutes);
      renderFeed(activity.data);
    }
    if (jobs.ok) renderJobs(jobs.data);
    else notice('jobs: ' + errorOf(jobs));
    renderHealth(health);
    const bad = [stats, workers, jobs].find((r) => r.status === 503);
    if (bad) notice(errorOf(bad));
    else if (jobs.ok) notice('');
  }

  let draining = false;
  function renderHealth(h) {
    const s = $('status');
    if (!h.data) return;
    draining = !!h.data.draining;
    const w = h.data.workers || {};
    setText(s, (draining ? 'draining · ' : '') + h.data.status + ' · ' + (w.alive ?? '?') + '/' + (w.wanted ?? '?') + ' workers');
    s.className = 'pill' + (h.data.status === 'unavailable' ? ' bad' : draining || h.data.status !== 'ok' ? ' warn' : '');
    setText($('drain'), draining ? 'Undrain' : 'Drain');
    setText($('daemon'), location.host);
  }

  // ---- actions ----
  async function act(method, path, question, body) {
    if (question && !window.confirm(question)) return null;
    const res = await api(method, path, body);
    if (!res.ok) notice(errorOf(res));
    refreshNow();
    return res;
  }
  function kickQueue(queue) {
    act('POST', '/kick/' + encodeURIComponent(queue), 'Put the buried jobs of ' + queue + ' back to waiting?');
  }
  // disabled until the daemon answers: POST /drain answers once every worker has acknowledged it
  $('drain').addEventListener('click', async () => {
    const button = $('drain');
    button.disabled = true;
    try {
      if (draining) await act('POST', '/undrain');
      else await act('POST', '/drain', 'Drain: the workers stop taking new jobs (running ones go on). Drain?');
    } finally {
      button.disabled = false;
    }
  });

  $('bulk-retry').addEventListener('click', async () => {
    const q = new URLSearchParams({ state: 'failed', limit: BULK_CAP });
    if (view.type) q.set('type', view.type);
    if (view.queue) q.set('queue', view.queue);
    const res = await api('GET', '/jobs?' + q);
    if (!res.ok) return notice(errorOf(res));
    const uuids = res.data.jobs.map((j) => j.uuid);
    const scope = (view.type ? ' of type ' + view.type : '') + (view.queue ? ' in ' + view.queue : '');
    if (!uuids.length) return window.alert('No failed job' + scope + '.');
    const more = res.data.next ? ' (the newest ' + BULK_CAP + '; run it again for the rest)' : '';
    if (!window.confirm('Retry ' + uuids.length + ' failed job(s)' + scope + more + '?')) return;
    let retried = 0;
    const errors = [];
    for (let i = 0; i < uuids.length; i += 8) {
      const part = await Promise.all(uuids.slice(i, i + 8).map((u) => api('POST', '/retry/' + u)));
      for (const r of part) if (r.ok) retried++; else errors.push(errorOf(r));
    }
    notice(errors.length ? 'Retried ' + retried + '; ' + errors.length + ' not: ' + errors[0] : '');
    refreshNow();
  });

  $('bulk-purge').addEventListener('click', async () => {
    const states = view.state === 'succeeded' || view.state === 'failed' ? [view.state] : ['succeeded', 'failed'];
    const body = { state: states };
    if (view.type) body.type = view.type;
    if (view.queue) body.queue = view.queue;
    const scope = states.join(' or ') + ' job(s)' + (view.type ? ' of type ' + view.type : '') + (view.queue ? ' in ' + view.queue : '');
    const stats = await api('GET', '/stats' + (view.queue ? '?queue=' + encodeURIComponent(view.queue) : ''));
    if (!stats.ok) return notice(errorOf(stats));
    let count = 0;
    for (const [q, byType] of Object.entries(stats.data || {})) {
      if (view.queue && q !== view.queue) continue;
      for (const [t, counts] of Object.entries(byType)) if (!view.type || t === view.type) for (const st of states) count += counts[st] || 0;
    }
    if (!count) return window.alert('No ' + scope + '.');
    const res = await act('POST', '/purge', 'Delete ' + count + ' ' + scope + '? This cannot be undone.', body);
    if (res && res.ok) window.alert('Deleted ' + res.data.deleted + ' job(s).');
  });

  // ---- filters and paging ----
  function setFilter(change) {
    Object.assign(view, change, { cursor: null, older: [] });
    const f = $('filter');
    f.elements.state.value = view.state;
    f.elements.type.value = view.type;
    f.elements.queue.value = view.queue;
    refreshNow();
  }
  $('filter').addEventListener('change', (e) => {
    const f = e.currentTarget;
    setFilter({ state: f.elements.state.value, type: f.elements.type.value, queue: f.elements.queue.value });
  });
  $('filter').addEventListener('submit', (e) => e.preventDefault());
  $('next-page').addEventListener('click', () => {
    if (!view.next) return;
    view.older.push(view.cursor);
    view.cursor = view.next;
    refreshNow();
  });
  $('first-page').addEventListener('click', () => {
    view.cursor = null;
    view.older = [];
    refreshNow();
  });

  // ---- the submit form, from the types' SCHEMA ----
  async function loadTypes() {
    const res = await api('GET', '/types');
    if (!res.ok) return;
    const text = JSON.stringify(res.data);
    if (text === JSON.stringify(types)) return;
    types = res.data;
    const select = $('submit-type');
    const chosen = select.value;
    select.replaceChildren(...types.map((t) => el('option', { value: t.jobType }, t.jobType + ' (' + t.queue + ')')));
    if (types.some((t) => t.jobType === chosen)) select.value = chosen;
    buildFields();
  }
  function shown(v) { return typeof v === 'string' ? v : JSON.stringify(v); }
  function buildFields() {
    const type = types.find((t) => t.jobType === $('submit-type').value);
    const box = $('submit-fields');
    if (!type) { box.replaceChildren(el('p', { class: 'muted small' }, 'No job type is loaded.')); return; }
    if (!type.fields.length) { box.replaceChildren(el('p', { class: 'muted small' }, 'This type takes no fields.')); return; }
    box.replaceChildren(...type.fields.map((f) => {
      const has = Object.prototype.hasOwnProperty.call(f, 'default');
      let input;
      const attrs = { name: 'f.' + f.name, 'data-type': f.type, 'aria-required': f.required ? 'true' : null };
      if (f.type === 'boolean') {
        input = el('select', attrs, el('option', { value: '' }, has ? 'default (' + f.default + ')' : '—'),
          el('option', { value: 'true' }, 'true'), el('option', { value: 'false' }, 'false'));
      } else if (f.type === 'object' || f.type === 'array' || f.type === 'any') {
        input = el('textarea', Object.assign(attrs, { placeholder: has ? shown(f.default) : 'JSON' }));
      } else {
        const numeric = f.type === 'integer' || f.type === 'number';
        input = el('input', Object.assign(attrs, { inputmode: numeric ? (f.type === 'integer' ? 'numeric' : 'decimal') : null,
          placeholder: has ? shown(f.default) : '' }));
      }
      return el('label', { class: 'field', 'data-field': f.name },
        el('span', null, f.name), f.required ? el('span', { class: 'req', title: 'required' }, '*') : null,
        el('span', { class: 'hint' }, f.type + (has ? ' · default ' + shown(f.default) : '') + (f.required ? ' · required' : '')),
        input, el('span', { class: 'field-error', role: 'alert' }));
    }));
  }
  $('submit-type').addEventListener('change', buildFields);

  function fieldError(name, text) {
    const label = document.querySelector('#submit-fields [data-field="' + CSS.escape(name) + '"]');
    if (!label) return false;
    setText(label.querySelector('.field-error'), text);
    const input = label.querySelector('[name]');
    input.classList.toggle('invalid', !!text);
    if (text) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
    return true;
  }
  $('submit').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const type = types.find((t) => t.jobType === $('submit-type').value);
    const result = $('submit-result');
    result.replaceChildren();
    result.className = 'small';
    if (!type) return;
    const params = {};
    let bad = false;
    for (const f of type.fields) {
      fieldError(f.name, '');
      const raw = form.elements['f.' + f.name].value;
      if (raw === '') continue;
      if (f.type === 'string') params[f.name] = raw;
      else if (f.type === 'boolean') params[f.name] = raw === 'true';
      else if (f.type === 'integer') params[f.name] = /^-?\d+$/.test(raw.trim()) && Number.isSafeInteger(Number(raw)) ? Number(raw) : raw;
      else if (f.type === 'number') params[f.name] = raw.trim() !== '' && isFinite(Number(raw)) ? Number(raw) : raw;
      else {
        try { params[f.name] = JSON.parse(raw); } catch (err) { bad = fieldError(f.name, 'not valid JSON: ' + err.message); }
      }
    }
    if (bad) return;
    const q = new URLSearchParams();
    for (const k of ['priority', 'delay']) if (form.elements[k].value.trim()) q.set(k, form.elements[k].value.trim());
    const res = await api('POST', '/job/' + encodeURIComponent(type.jobType) + (q.toString() ? '?' + q : ''), params);
    if (res.ok) {
      result.append('Submitted ', jobLink(res.data.uuid), res.data.existing ? ' (an existing job holds its key)' : '');
      result.dataset.uuid = res.data.uuid;
      refreshNow();
    } else if (res.data && res.data.field && fieldError(res.data.field, res.data.error)) {
      result.className = 'small error';
      result.append('Not submitted: see ' + res.data.field + '.');
    } else {
      result.className = 'small error';
      result.append(errorOf(res));
    }
  });

  // ---- a job's page ----
  let jobText = '';
  let jobCas = null;
  let jobQueued = null; // the job's queue state (GET /state) the page shows
  const LOG_SHOWN = 500; // the latest entries of a list shown: a job may hold 100,000 events
  function logList(title, entries, cls) {
    const list = el('ol', { class: 'log ' + cls });
    const all = entries || [];
    const earlier = Math.max(0, all.length - LOG_SHOWN);
    if (earlier) list.append(el('li', { class: 'muted more' }, earlier.toLocaleString('en') + ' earlier not shown (GET /dump/UUID?showLogs=true has them all)'));
    for (const e of all.slice(earlier)) {
      list.append(el('li', null, el('span', { class: 't', title: e.timeStamp || '' }, clock(e.timeStamp)),
        e.errorCode !== undefined ? el('span', { class: 'muted' }, '[' + e.errorCode + '] ') : null,
        el('span', { class: 'm' }, typeof e.msg === 'string' ? e.msg : JSON.stringify(e.msg))));
    }
    if (!all.length) list.append(el('li', { class: 'muted' }, 'none'));
    return el('section', { class: 'card', 'data-list': cls }, el('h2', null, title + ' (' + (entries || []).length + ')'), list);
  }
  async function refreshJob(uuid) {
    // the document without its lists first (a few hundred bytes): the lists and the data are read
    // again only when it changed (its cas moves with every write), not the megabytes of a job
    // with 100,000 events every second
    // (and where it is in its queue: a delayed job becomes ready without a write to it)
    const [head, where] = await Promise.all([api('GET', '/dump/' + encodeURIComponent(uuid)),
      api('GET', '/state/' + encodeURIComponent(uuid))]);
    const queued = where.ok ? where.data.state : 'waiting';
    if (head.ok && jobText && head.data.cas === jobCas && queued === jobQueued) return;
    jobQueued = queued;
    const [dump, data] = await Promise.all([api('GET', '/dump/' + encodeURIComponent(uuid) + '?showLogs=true'),
      api('GET', '/data/' + encodeURIComponent(uuid))]);
    const box = $('job');
    if (!dump.ok) {
      jobText = '';
      box.replaceChildren(el('section', { class: 'card' }, el('h2', null, 'Job ' + uuid),
        el('p', { class: 'error' }, errorOf(dump)), el('a', { href: '#/' }, '← all jobs')));
      return;
    }
    jobCas = head.ok ? head.data.cas : null;
    const text = JSON.stringify([dump.data, data.data, queued]);
    if (text === jobText) return;
    jobText = text;
    const d = dump.data;
    const finished = !d.running && typeof d.resultCode === 'number' && d.resultCode >= 0;
    // not running and not finished: waiting, delayed, buried or parked (a parent waiting for its children)
    const state = d.running ? 'running' : finished ? (d.errors && d.errors.length && d.resultCode >= 400 ? 'failed' : 'succeeded')
      : ['delayed', 'buried', 'parked'].includes(queued) ? queued : 'waiting';
    const b = bar();
    setBar(b, d.completeness, finished ? state : 'running');
    const actions = el('span', { class: 'actions' });
    if (!finished) actions.append(el('button', { type: 'button', id: 'job-kill', class: 'danger', onclick: () => act('POST', '/kill/' + uuid, 'Kill job ' + uuid + '?') }, 'Kill'));
    if (finished) actions.append(el('button', { type: 'button', id: 'job-retry', onclick: () => act('POST', '/retry/' + uuid, 'Retry job ' + uuid + '?') }, 'Retry'));
    actions.append(' ', el('button', { type: 'button', id: 'job-delete', class: 'danger', onclick: async () => {
      const res = await act('DELETE', '/job/' + uuid, 'Delete job ' + uuid + ' (its document and queue message)?');
      if (res && res.ok) location.hash = '#/';
    } }, 'Delete'));
    const base = ['jobType', 'queueName', 'createdAt', 'updatedAt', 'running', 'resultCode', 'errorCount', 'completeness', 'queueKwargs', 'logId', 'schemaVersion'];
    const skip = new Set(base.concat(['events', 'warnings', 'errors', 'uuid', 'documentType', 'cas', 'queueJobId', 'tickcount', 'tickval']));
    const kv = el('dl', { class: 'kv' });
    for (const k of base) if (d[k] !== undefined) kv.append(el('dt', null, k === 'errorCount' ? 'errorCount (runs that failed)' : k), el('dd', { 'data-key': k }, shown(d[k])));
    const params = el('dl', { class: 'kv' });
    for (const k of Object.keys(d).sort()) if (!skip.has(k)) params.append(el('dt', null, k), el('dd', { 'data-key': k }, shown(d[k])));
    if (!params.children.length) params.append(el('dd', { class: 'muted' }, 'none'));
    const retried = (d.events || []).filter((e) => /^Retried/.test(String(e.msg))).length;
    box.replaceChildren(
      el('p', null, el('a', { href: '#/' }, '← all jobs')),
      el('section', { class: 'card' },
        el('div', { class: 'job-head' }, el('h2', { class: 'mono' }, d.uuid), el('span', { class: 'state ' + state, id: 'job-state' }, state), b, actions),
        el('p', { class: 'muted small' }, 'errors: ' + (d.errorCount || 0) + ' · retried by hand: ' + retried), kv),
      el('div', { class: 'grid' },
        el('section', { class: 'card' }, el('h2', null, 'Fields'), params),
        el('section', { class: 'card' }, el('h2', null, 'Data'), el('pre', { class: 'data mono', id: 'job-data' }, data.ok ? JSON.stringify(data.data, null, 2) : errorOf(data)))),
      logList('Errors', d.errors, 'errors'), logList('Warnings', d.warnings, 'warnings'), logList('Events', d.events, 'events'));
  }

  // ---- routing and the poll loop ----
  let timer = null;
  let busy = false;
  function route() {
    const m = /^#\/job\/(.+)$/.exec(location.hash);
    if (!m) return { page: 'overview' };
    let uuid = m[1];
    try { uuid = decodeURIComponent(uuid); } catch (err) { /* a malformed %-escape: shown as typed */ }
    return { page: 'job', uuid };
  }
  // A tab out of sight does not poll (ten forgotten tabs would cost the daemon ten times the
  // requests); it refreshes at once when it is shown again.
  async function tick() {
    clearTimeout(timer);
    if (document.hidden) return;
    if (busy) { timer = setTimeout(tick, 100); return; }
    busy = true;
    try {
      const r = route();
      $('overview').hidden = r.page !== 'overview';
      $('job').hidden = r.page !== 'job';
      if (r.page === 'job') await refreshJob(r.uuid);
      else await refreshOverview();
    } catch (err) {
      notice('Cannot reach the daemon: ' + err.message);
    } finally {
      busy = false;
    }
    timer = setTimeout(tick, POLL_MS);
  }
  function refreshNow() { clearTimeout(timer); timer = setTimeout(tick, 0); }
  window.addEventListener('hashchange', () => { jobText = ''; jobCas = null; jobQueued = null; notice(''); window.scrollTo(0, 0); refreshNow(); });
  document.addEventListener('visibilitychange', () => { if (!document.hidden) refreshNow(); });
  setInterval(() => { if (!document.hidden) loadTypes(); }, 15000);
  loadTypes().then(tick, tick);
})();
