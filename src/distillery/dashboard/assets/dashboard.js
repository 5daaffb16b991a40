/* distillery dashboard: draws every panel from the embedded registry rows (no network). */
(function () {
  'use strict';
  const D = JSON.parse(document.getElementById('dashboard-data').textContent);
  const $ = (id) => document.getElementById(id);
  const NO_FILTER = '(no filter)';
  const PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ['select2d', 'lasso2d'] };
  const COLORS = ['#2f6fde', '#e8710a', '#1a7f37', '#c62828', '#8e44ad', '#00838f', '#6d4c41', '#d81b60', '#546e7a', '#9e9d24'];
  const METRICS = {
    mae: { label: 'MAE', perDim: true },
    spearman: { label: 'Spearman', perDim: true },
    rmse: { label: 'RMSE', perDim: true },
    weighted_mae: { label: 'weighted-average MAE', perDim: false },
    tier_accuracy: { label: 'tier accuracy', perDim: false },
    mae_vs_baseline: { label: 'MAE / mean-baseline MAE', perDim: false },
  };
  const state = { filter: D.filters[0] || NO_FILTER, dim: 'overall', split: 'val', metric: 'mae',
    student: null, sweep: null, export: null, score: null, kind: 'all' };

  // ---- helpers ---------------------------------------------------------------------------------
  const isNum = (x) => typeof x === 'number' && isFinite(x);
  function fmt(x, nd) {
    if (x === null || x === undefined || (typeof x === 'number' && !isFinite(x))) return '–';
    if (typeof x === 'number') return Number.isInteger(x) && nd === undefined ? String(x) : x.toFixed(nd === undefined ? 3 : nd);
    return String(x);
  }
  const pct = (x, nd) => (isNum(x) ? (100 * x).toFixed(nd === undefined ? 1 : nd) + '%' : '–');
  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') e.textContent = v; else if (k === 'cls') e.className = v; else e.setAttribute(k, v);
    }
    for (const c of [].concat(children || [])) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  function link(text, href, title) {
    return href ? el('a', { href: href, text: text, title: title || href, target: '_blank', rel: 'noopener' }) : document.createTextNode(text);
  }
  const byStarted = (a, b) => String(a.started || '').localeCompare(String(b.started || ''));
  const filterRuns = (kind) => D.runs.filter((r) => r.filter === state.filter && (!kind || r.kind === kind));
  function dimsOf(f) {
    const info = D.filter_info[f] || {};
    return info.dims || [];
  }
  const dimLabel = (d) => (d === 'overall' ? 'overall' : d.replace(/_/g, ' '));
  function shortTime(s) { return s ? s.replace('T', ' ').slice(0, 16) : '–'; }
  function fillSelect(id, options, value) {
    const s = $(id);
    s.replaceChildren(...options.map(([v, t]) => el('option', { value: v, text: t })));
    const vals = options.map((o) => o[0]);
    s.value = vals.includes(value) ? value : (vals[0] !== undefined ? vals[0] : '');
    s.disabled = options.length === 0;
    return s.value;
  }
  function table(id, headers, rows) {
    const t = $(id);
    const head = el('thead', {}, el('tr', {}, headers.map((h) => el('th', { text: h.label || h, cls: h.num ? 'num' : null }))));
    const body = el('tbody', {}, rows.map((cells) => el('tr', {}, cells.map((c, i) => {
      const num = headers[i] && headers[i].num;
      if (c instanceof Node) return el('td', { cls: num ? 'num' : null }, c);
      if (c && typeof c === 'object' && 'node' in c) return el('td', { cls: c.cls }, c.node);
      if (c && typeof c === 'object' && 'text' in c) return el('td', { cls: (num ? 'num ' : '') + (c.cls || ''), text: c.text, title: c.title });
      return el('td', { cls: num ? 'num' : null, text: fmt(c) });
    }))));
    t.replaceChildren(head, body);
    t.dataset.rows = String(rows.length);
    t.hidden = rows.length === 0;
  }
  const statusCell = (s) => ({ text: s || '–', cls: 'status-' + (s || 'unknown') });
  const BASE_LAYOUT = {
    margin: { l: 56, r: 16, t: 36, b: 44 }, font: { family: 'system-ui, sans-serif', size: 12, color: '#1d2430' },
    paper_bgcolor: '#fff', plot_bgcolor: '#fff', hovermode: 'closest',
    legend: { orientation: 'h', x: 0, xanchor: 'left', y: 1.02, yanchor: 'bottom', font: { size: 11 } },
    xaxis: { gridcolor: '#eef1f5', zeroline: false, automargin: true }, yaxis: { gridcolor: '#eef1f5', zeroline: false, automargin: true },
  };
  function plot(id, traces, layout, emptyMsg, caption) {
    const div = $(id);
    const msg = div.parentElement.querySelector('.empty');
    const cap = div.parentElement.querySelector('.caption');
    if (cap) cap.textContent = caption || '';
    const n = traces.reduce((s, t) => s + (t.y || []).filter((v) => v !== null && v !== undefined).length, 0);
    if (!n) {
      Plotly.purge(div);
      div.hidden = true;
      div.dataset.points = '0';
      msg.textContent = emptyMsg;
      msg.hidden = false;
      return;
    }
    div.hidden = false;
    msg.hidden = true;
    const lay = Object.assign({}, BASE_LAYOUT, layout);
    lay.xaxis = Object.assign({}, BASE_LAYOUT.xaxis, layout.xaxis || {});
    lay.yaxis = Object.assign({}, BASE_LAYOUT.yaxis, layout.yaxis || {});
    Plotly.react(div, traces, lay, PLOT_CONFIG);
    div.dataset.points = String(n);
    if (!div.dataset.bound) {  // click a point: open its run dir (customdata)
      div.on('plotly_click', (ev) => { const h = ev.points && ev.points[0] && ev.points[0].customdata; if (h) window.open(h, '_blank'); });
      div.dataset.bound = '1';
    }
  }
  function runHover(r) {
    const bits = [r.name, [r.model, r.context_strategy, r.loss && 'loss ' + r.loss].filter(Boolean).join(' · ')];
    if (r.seed !== undefined && r.seed !== null) bits.push('seed ' + r.seed);
    return bits.join('<br>');
  }
  function metricKey(metric, dim) { return dim === 'overall' ? metric : dim + '/' + metric; }

  // ---- controls --------------------------------------------------------------------------------
  function initControls() {
    fillSelect('select-filter', D.filters.map((f) => [f, f + ' (' + D.filter_info[f].runs + ')']), state.filter);
    fillSelect('select-metric', Object.entries(METRICS).map(([k, m]) => [k, m.label]), state.metric);
    const kinds = Array.from(new Set(D.runs.map((r) => r.kind))).sort();
    fillSelect('select-kind', [['all', 'all kinds']].concat(kinds.map((k) => [k, k])), 'all');
    $('roots').textContent = 'registry of ' + D.roots.join(', ');
    const on = (id, key) => $(id).addEventListener('change', (e) => { state[key] = e.target.value; render(); });
    on('select-filter', 'filter'); on('select-dim', 'dim'); on('select-split', 'split'); on('select-metric', 'metric');
    on('select-student', 'student'); on('select-sweep', 'sweep'); on('select-export', 'export'); on('select-kind', 'kind');
    on('select-score', 'score');
  }
  function syncFilterControls() {
    state.dim = fillSelect('select-dim', [['overall', 'overall (all dimensions)']].concat(dimsOf(state.filter).map((d) => [d, dimLabel(d)])), state.dim);
  }

  // ---- summary cards ---------------------------------------------------------------------------
  function renderCards() {
    const runs = filterRuns();
    const train = runs.filter((r) => r.kind === 'train');
    const ok = train.filter((r) => r.status === 'ok' && r.metrics && r.metrics.val).sort(byStarted);
    const best = ok.reduce((b, r) => (b === null || r.metrics.val.mae < b.metrics.val.mae ? r : b), null);
    const latest = ok.length ? ok[ok.length - 1] : null;
    const spend = D.costs.filter((c) => c.filter === state.filter).reduce((s, c) => s + c.cost_usd, 0);
    const count = (k) => runs.filter((r) => r.kind === k).length;
    const cards = [
      ['training runs', train.length + (train.length - ok.length ? ' (' + (train.length - ok.length) + ' not ok)' : '')],
      ['latest val MAE', latest ? fmt(latest.metrics.val.mae) : '–'],
      ['best val MAE', best ? fmt(best.metrics.val.mae) + ' · ' + (best.model || '') : '–'],
      ['evaluations', String(count('evaluate') + count('ensemble'))],
      ['sweeps', String(count('sweep'))],
      ['exports', String(count('export'))],
      ['oracle spend', '$' + spend.toFixed(4)],
    ];
    $('summary-cards').replaceChildren(...cards.map(([k, v]) => el('div', { cls: 'card' }, [el('div', { cls: 'v', text: v }), el('div', { cls: 'k', text: k })])));
  }

  // ---- accuracy over time ----------------------------------------------------------------------
  function renderAccuracy() {
    const m = METRICS[state.metric];
    if (state.dim !== 'overall' && !m.perDim) {
      plot('chart-accuracy', [], {}, m.label + ' is defined for the whole filter only: choose dimension "overall".');
      return;
    }
    const key = metricKey(state.metric, state.dim);
    const traces = [];
    const train = filterRuns('train').filter((r) => r.status === 'ok' && r.metrics).sort(byStarted);
    const models = Array.from(new Set(train.map((r) => r.model || '?')));
    models.forEach((model, i) => {
      const rs = train.filter((r) => (r.model || '?') === model && r.metrics[state.split] && isNum(r.metrics[state.split][key]));
      if (!rs.length) return;
      traces.push({ type: 'scatter', mode: 'lines+markers', name: 'train · ' + model + ' (' + state.split + ')',
        x: rs.map((r) => r.started), y: rs.map((r) => r.metrics[state.split][key]), text: rs.map(runHover),
        customdata: rs.map((r) => r.href), hovertemplate: '%{text}<br>' + m.label + ' %{y:.4f}<extra></extra>',
        marker: { size: 8, color: COLORS[i % COLORS.length] }, line: { color: COLORS[i % COLORS.length], width: 1.5 } });
    });
    const evals = filterRuns().filter((r) => (r.kind === 'evaluate' || r.kind === 'ensemble') && r.status === 'ok' && r.metrics).sort(byStarted);
    const evKinds = Array.from(new Set(evals.map((r) => r.model || r.kind)));
    evKinds.forEach((k, i) => {
      const rs = evals.filter((r) => (r.model || r.kind) === k && isNum((r.metrics.final || {})[key]));
      if (!rs.length) return;
      traces.push({ type: 'scatter', mode: 'markers', name: 'evaluate · ' + k, x: rs.map((r) => r.started),
        y: rs.map((r) => r.metrics.final[key]), text: rs.map((r) => r.name + '<br>' + (r.data || '')),
        customdata: rs.map((r) => r.href), hovertemplate: '%{text}<br>' + m.label + ' %{y:.4f}<extra></extra>',
        marker: { size: 11, symbol: 'diamond', color: COLORS[(models.length + i) % COLORS.length] } });
    });
    if (state.metric === 'mae' && state.dim === 'overall') {
      const rs = train.filter((r) => r.metrics[state.split] && isNum(r.metrics[state.split].mean_baseline_mae));
      if (rs.length) traces.push({ type: 'scatter', mode: 'markers', name: 'mean baseline (' + state.split + ', per run)',
        x: rs.map((r) => r.started), y: rs.map((r) => r.metrics[state.split].mean_baseline_mae),
        marker: { symbol: 'line-ew-open', size: 16, color: '#8a94a3', line: { width: 2 } },
        hovertemplate: 'mean-baseline MAE %{y:.4f}<extra></extra>' });
    }
    plot('chart-accuracy', traces, {
      xaxis: { type: 'date', title: { text: 'run started' } }, yaxis: { title: { text: m.label } },
    }, 'No finished training or evaluation runs with ' + m.label + ' for ' + state.filter + '.',
    state.filter + ' · ' + m.label + ' · ' + dimLabel(state.dim) + ' · training runs on the ' + state.split + ' split, evaluations on their own data');
  }

  function renderDims() {
    const metric = METRICS[state.metric].perDim ? state.metric : 'mae';
    const train = filterRuns('train').filter((r) => r.status === 'ok' && r.metrics && r.metrics[state.split]).sort(byStarted);
    const traces = dimsOf(state.filter).map((d, i) => {
      const rs = train.filter((r) => isNum(r.metrics[state.split][d + '/' + metric]));
      const sel = state.dim === d;
      return { type: 'scatter', mode: 'lines+markers', name: dimLabel(d), x: rs.map((r) => r.started),
        y: rs.map((r) => r.metrics[state.split][d + '/' + metric]), text: rs.map(runHover), customdata: rs.map((r) => r.href),
        hovertemplate: dimLabel(d) + '<br>%{text}<br>%{y:.4f}<extra></extra>',
        line: { width: sel ? 3.5 : 1.2, color: COLORS[i % COLORS.length] }, marker: { size: sel ? 9 : 5 },
        opacity: state.dim === 'overall' || sel ? 1 : 0.45 };
    });
    plot('chart-dims', traces, {
      xaxis: { type: 'date' }, yaxis: { title: { text: METRICS[metric].label } },
    }, 'No per-dimension metrics for ' + state.filter + ' yet.', METRICS[metric].label + ' per dimension (' + state.split + ')');
  }

  // ---- distributions ---------------------------------------------------------------------------
  function studentSources() {
    const out = [];
    for (const r of filterRuns().sort(byStarted).reverse()) {
      if ((r.kind === 'evaluate' || r.kind === 'ensemble') && r.predictions && r.predictions.n)
        out.push({ id: r.path, label: r.kind + ' ' + r.name + ' (' + (r.model || '') + ', n=' + r.predictions.n + ')', p: r.predictions });
      if (r.kind === 'train' && r.predictions)
        for (const [split, p] of Object.entries(r.predictions))
          out.push({ id: r.path + '#' + split, label: 'train ' + r.name + ' ' + split + ' (' + (r.model || '') + ', n=' + p.n + ')', p: p });
    }
    return out;
  }
  function renderDist() {
    const sources = studentSources();
    state.student = fillSelect('select-student', sources.map((s) => [s.id, s.label]), state.student);
    const src = sources.find((s) => s.id === state.student);
    const dkey = state.dim === 'overall' ? 'weighted_average' : state.dim;
    const w = D.bins.width;
    const centres = Array.from({ length: D.bins.n }, (_, i) => (i + 0.5) * w);
    const share = (h) => { const n = h.reduce((a, b) => a + b, 0); return n ? h.map((c) => (100 * c) / n) : null; };
    const traces = [];
    const scores = filterRuns('score').filter((r) => r.labels && r.labels.n).sort(byStarted);
    const oracleRun = scores.length ? scores[scores.length - 1] : null;
    const add = (name, h, color, n) => {
      const y = h && share(h);
      if (y) traces.push({ type: 'bar', name: name + ' (n=' + n + ')', x: centres, y: y, width: w * 0.95, opacity: 0.55,
        marker: { color: color }, hovertemplate: '%{x:.2f} ± ' + w / 2 + ': %{y:.1f}%<extra>' + name + '</extra>' });
    };
    if (oracleRun) add('oracle · ' + oracleRun.name + ' labels', oracleRun.labels.oracle[dkey], '#8a94a3', oracleRun.labels.n);
    if (src) {
      add('oracle · eval set', src.p.oracle[dkey], '#e8710a', src.p.n);
      add('student', src.p.student[dkey], '#2f6fde', src.p.n);
    }
    plot('chart-dist', traces, {
      barmode: 'overlay', xaxis: { title: { text: 'score' }, range: [0, 10] }, yaxis: { title: { text: '% of articles' } },
    }, 'No oracle labels or saved predictions for ' + state.filter + ' yet (run distillery score / distillery evaluate).',
    dimLabel(state.dim) + (state.dim === 'overall' ? ' (weighted average)' : ''));
  }

  // ---- prefilter -------------------------------------------------------------------------------
  function renderPrefilter() {
    const scores = filterRuns('score').filter((r) => r.prefilter && r.prefilter.articles).sort(byStarted).reverse();
    const audited = (x) => Object.values(x.prefilter.audit_blocked || {}).reduce((n, a) => n + (a.audited || 0), 0);
    state.score = fillSelect('select-score', scores.map((x) => [x.path, x.name + ' · ' + shortTime(x.started) + ' · '
      + x.prefilter.articles + ' articles · ' + (audited(x) ? audited(x) + ' blocked audited' : 'no audit')]), state.score);
    const r = scores.find((x) => x.path === state.score) || null;
    if (!r) {
      plot('chart-prefilter', [], {}, 'No distillery score runs for ' + state.filter + '.');
      table('table-prefilter', [], []);
      return;
    }
    const pf = r.prefilter;
    const reasons = Object.keys(pf.by_reason);
    const blocked = reasons.filter((x) => x !== 'passed');
    const audit = pf.audit_blocked || {};
    const ps = pf.passed_scored || {};
    const traces = [
      { type: 'bar', name: 'share of articles', x: reasons, y: reasons.map((x) => 100 * pf.by_reason[x].share), marker: { color: '#b8c2cf' },
        hovertemplate: '%{x}: %{y:.1f}% of articles<extra></extra>' },
      { type: 'bar', name: 'false-negative rate (audited)', x: blocked, y: blocked.map((x) => (audit[x] && isNum(audit[x].false_negative_rate) ? 100 * audit[x].false_negative_rate : null)),
        marker: { color: '#c62828' }, hovertemplate: '%{x}: %{y:.1f}% of audited were relevant<extra></extra>' },
      { type: 'bar', name: 'false-positive rate (passed)', x: ['passed'], y: [isNum(ps.false_positive_rate) ? 100 * ps.false_positive_rate : null],
        marker: { color: '#e8710a' }, hovertemplate: 'passed: %{y:.1f}% in the lowest oracle tier<extra></extra>' },
    ];
    plot('chart-prefilter', traces, {
      barmode: 'group', yaxis: { title: { text: '%' }, rangemode: 'tozero' }, xaxis: { tickangle: -15 },
    }, 'No prefilter report.', r.name + ' · ' + pf.articles + ' articles · pass rate ' + pct(pf.pass_rate));
    const rows = reasons.map((x) => {
      const a = audit[x] || {};
      return [x, pf.by_reason[x].count, { text: pct(pf.by_reason[x].share) }, x === 'passed' ? (ps.scored ?? '–') : (a.audited ?? '–'),
        x === 'passed' ? (ps.oracle_lowest_tier ?? '–') : (a.relevant ?? '–'),
        { text: x === 'passed' ? 'FP ' + pct(ps.false_positive_rate) : (isNum(a.false_negative_rate) ? 'FN ' + pct(a.false_negative_rate) : 'not audited') }];
    });
    table('table-prefilter', ['reason', { label: 'articles', num: true }, { label: 'share', num: true },
      { label: 'audited / scored', num: true }, { label: 'relevant / lowest tier', num: true }, { label: 'rate', num: true }], rows);
  }

  // ---- cost ------------------------------------------------------------------------------------
  function renderCost() {
    const months = Array.from(new Set(D.costs.map((c) => c.month))).sort();
    const filters = Array.from(new Set(D.costs.map((c) => c.filter))).sort();
    const sum = (rows, k) => rows.reduce((s, c) => s + (c[k] || 0), 0);
    const traces = filters.map((f, i) => ({
      type: 'bar', name: f, x: months, y: months.map((m) => sum(D.costs.filter((c) => c.month === m && c.filter === f), 'cost_usd')),
      marker: { color: COLORS[i % COLORS.length], line: { width: f === state.filter ? 2 : 0, color: '#1d2430' } },
      hovertemplate: f + ' %{x}: $%{y:.4f}<extra></extra>' }));
    if (months.length) traces.push({ type: 'scatter', mode: 'lines+markers', name: 'tokens (in + out)', x: months, yaxis: 'y2',
      y: months.map((m) => { const rs = D.costs.filter((c) => c.month === m); return sum(rs, 'prompt_tokens') + sum(rs, 'completion_tokens'); }),
      line: { color: '#1d2430', dash: 'dot' }, hovertemplate: '%{x}: %{y:,} tokens<extra></extra>' });
    plot('chart-cost', traces, {
      barmode: 'stack', xaxis: { type: 'category', title: { text: 'month' } }, yaxis: { title: { text: 'USD' }, rangemode: 'tozero' },
      yaxis2: { title: { text: 'tokens' }, overlaying: 'y', side: 'right', rangemode: 'tozero', showgrid: false },
      margin: { l: 56, r: 64, t: 30, b: 44 },
    }, 'No oracle ledgers found.');
    table('table-cost', ['month', 'filter', 'model', { label: 'requests', num: true }, { label: 'ok', num: true },
      { label: 'invalid', num: true }, { label: 'errors', num: true }, { label: 'tokens in', num: true }, { label: 'tokens out', num: true },
      { label: 'USD', num: true }, { label: 'mean latency s', num: true }],
    D.costs.slice().reverse().map((c) => [c.month, c.filter === state.filter ? { text: c.filter, cls: 'status-ok' } : c.filter, c.model, c.requests, c.ok,
      c.invalid, c.error, { text: c.prompt_tokens.toLocaleString('en') }, { text: c.completion_tokens.toLocaleString('en') },
      { text: '$' + c.cost_usd.toFixed(4) }, { text: fmt(c.requests ? c.latency_s / c.requests : null, 2) }]));
    const scores = D.runs.filter((r) => r.kind === 'score' || r.kind === 'synthesize').sort(byStarted).reverse();
    table('table-throughput', ['oracle run (latest invocation)', 'filter', 'oracle', 'last run', { label: 'articles', num: true },
      { label: 'scored now', num: true }, { label: 'tokens in / out', num: true }, { label: 'USD', num: true }, { label: 'articles/s', num: true }, 'status'],
    scores.map((r) => [link((r.kind === 'synthesize' ? 'synthesize: ' : '') + r.name, r.href), r.filter, r.model || '–', shortTime(r.started), (r.counts || {}).articles,
      (r.run || {}).scored, { text: fmt((r.run || {}).prompt_tokens) + ' / ' + fmt((r.run || {}).completion_tokens) },
      { text: isNum((r.run || {}).cost_usd) ? '$' + r.run.cost_usd.toFixed(4) : '–' }, { text: fmt(r.articles_per_s, 1) }, statusCell(r.status)]));
  }

  // ---- sweeps ----------------------------------------------------------------------------------
  function renderSweeps() {
    const sweeps = filterRuns('sweep').sort(byStarted).reverse();
    state.sweep = fillSelect('select-sweep', sweeps.map((s) => [s.path, (s.sweep_name || s.name) + ' · ' + shortTime(s.started) + ' · '
      + (s.jobs.length ? s.jobs.length + ' jobs' : s.status === 'failed' ? 'launch failed' : 'starting')]), state.sweep);
    const s = sweeps.find((x) => x.path === state.sweep);
    const files = $('sweep-files');
    files.replaceChildren();
    if (!s) {
      plot('chart-sweep', [], {}, 'No sweeps for ' + state.filter + '.');
      table('table-sweep', [], []);
      return;
    }
    files.append(link('sweep dir', s.href), ' ');
    if (s.error) files.append(el('span', { cls: 'err', text: s.status + ': ' + s.error }), ' ');
    for (const [k, h] of Object.entries(s.files || {})) files.append(' · ', link(k.replace('compare_', 'compare.'), h));
    const byPath = Object.fromEntries(D.runs.filter((r) => r.kind === 'train').map((r) => [r.path, r]));
    const split = state.split;
    const jobs = s.jobs.map((j) => ({ j: j, r: byPath[j.path] }));
    const base = byPath[s.baseline];
    const baseMae = base && base.metrics && base.metrics.val ? base.metrics.val.mae : null;
    const ok = jobs.filter((x) => x.r && x.r.status === 'ok' && x.r.metrics && x.r.metrics[split]);
    const traces = [{ type: 'bar', name: split + ' MAE', x: ok.map((x) => x.j.variant), y: ok.map((x) => x.r.metrics[split].mae),
      customdata: ok.map((x) => x.r.href), marker: { color: ok.map((x) => (x.j.path === s.baseline ? '#8a94a3' : '#2f6fde')) },
      text: ok.map((x) => fmt(x.r.metrics[split].mae)), textposition: 'auto', hovertemplate: '%{x}: %{y:.4f}<extra></extra>' }];
    if (state.dim !== 'overall') traces.push({ type: 'bar', name: dimLabel(state.dim) + ' MAE', x: ok.map((x) => x.j.variant),
      y: ok.map((x) => x.r.metrics[split][state.dim + '/mae']), marker: { color: '#e8710a' } });
    plot('chart-sweep', traces, {
      barmode: 'group', yaxis: { title: { text: 'MAE' }, rangemode: 'tozero' }, xaxis: { type: 'category' },
    }, s.error ? 'This sweep ' + s.status + ': ' + s.error : 'No finished jobs in this sweep yet.', (s.sweep_name || s.name) + ' · ' + split + ' MAE per job (grey: baseline)');
    const dims = dimsOf(state.filter);
    const headers = ['#', 'variant', 'status', { label: 'val MAE', num: true }, { label: 'Δ vs baseline', num: true },
      { label: 'test MAE', num: true }, { label: 'Spearman', num: true }, { label: 'tier acc.', num: true }]
      .concat(dims.map((d) => ({ label: d.replace(/_/g, ' ') + ' MAE', num: true })))
      .concat([{ label: 'train s', num: true }, { label: 'ms/article', num: true }, 'W&B', 'error']);
    table('table-sweep', headers, jobs.map(({ j, r }) => {
      const v = (r && r.metrics && r.metrics.val) || {};
      const t = (r && r.metrics && r.metrics.test) || {};
      const delta = isNum(v.mae) && isNum(baseMae) ? (100 * (v.mae - baseMae)) / baseMae : null;
      return [j.num, link(j.variant, j.href), statusCell(r ? r.status : j.status), v.mae,
        { text: j.path === s.baseline ? 'baseline' : (isNum(delta) ? (delta > 0 ? '+' : '') + delta.toFixed(1) + '%' : '–'), cls: isNum(delta) ? (delta < 0 ? 'better' : delta > 0 ? 'worse' : '') : '' },
        t.mae, v.spearman, v.tier_accuracy].concat(dims.map((d) => v[d + '/mae']))
        .concat([r ? r.train_seconds : null, r ? r.inference_ms_per_article : null,
          r && r.wandb ? link(r.wandb.id || 'run', r.wandb.href) : '–', { text: (r && r.error) || '', cls: 'err' }]);
    }));
  }

  // ---- exports ---------------------------------------------------------------------------------
  function renderExports() {
    const exps = filterRuns('export').sort(byStarted).reverse();
    state.export = fillSelect('select-export', exps.map((e) => [e.path, e.name + ' · ' + shortTime(e.started)]), state.export);
    const e = exps.find((x) => x.path === state.export);
    const rows = (e && e.benchmark && e.benchmark.rows) || [];
    const backends = Array.from(new Set(rows.map((r) => r.backend)));
    const traces = backends.map((b, i) => {
      const rs = rows.filter((r) => r.backend === b);
      return { type: 'bar', name: b, x: rs.map((r) => String(r.length)), y: rs.map((r) => r.ms_per_article), marker: { color: COLORS[i % COLORS.length] },
        text: rs.map((r) => (isNum(r.speedup_vs_pytorch) ? r.speedup_vs_pytorch.toFixed(2) + '× vs PyTorch' : '')),
        hovertemplate: b + ' · %{x} tokens: %{y:.1f} ms/article<br>%{text}<extra></extra>' };
    });
    plot('chart-export', traces, {
      barmode: 'group', xaxis: { type: 'category', title: { text: 'context length (tokens)' } }, yaxis: { title: { text: 'ms / article' }, rangemode: 'tozero' },
    }, e ? 'This export has no benchmark.json yet (run distillery benchmark).' : 'No exports for ' + state.filter + ' (give the exports folder with --scan).',
    e ? e.name + ' · CPU ms per article' + (e.benchmark && e.benchmark.threads ? ' (' + e.benchmark.threads + ' threads)' : '') : '');
    const mb = (b) => (isNum(b) ? (b / 1e6).toFixed(1) + ' MB' : '–');
    const hybridCell = (x) => {
      const h = x.hybrid;
      if (x.part_of) return 'part of ' + x.part_of + ' (' + x.stage + ')';
      if (!h) return '–';
      return 'hybrid: threshold ' + fmt(h.threshold, 2) + ' · skips ' + pct(h.skip_rate) + ' · FN ' + pct(h.fn_rate, 2)
        + ' (target ' + pct(h.fn_target, 2) + ')' + (isNum(h.speedup) ? ' · ' + h.speedup.toFixed(2) + '×' : '');
    };
    const listed = exps.flatMap((x) => [x].concat((x.stages || []).map((st) => Object.assign({}, st, { part_of: x.name }))));
    table('table-export', ['export', 'hybrid / part', 'source run', 'model', 'context', 'status', { label: 'FP32 max |Δ| (tol)', num: true },
      { label: 'tokenizer mismatches', num: true }, 'INT8 config', { label: 'INT8 MAE change (tol)', num: true },
      { label: 'tier agreement', num: true }, { label: 'min Spearman vs FP32', num: true }, { label: 'FP32 / INT8 size', num: true },
      { label: 'best INT8 speed-up', num: true }, 'error'],
    listed.map((x) => {
      const p = x.parity || {};
      const sp = ((x.benchmark && x.benchmark.rows) || []).filter((r) => r.backend === 'onnx-int8' && isNum(r.speedup_vs_pytorch)).map((r) => r.speedup_vs_pytorch);
      return [link((x.part_of ? '↳ ' : '') + x.name, x.href), hybridCell(x), x.source_run ? link(x.source_run.split('/').pop(), x.source_href) : '–', x.model || '–',
        (x.context_strategy || '–') + (x.max_tokens ? ' ' + x.max_tokens : ''), statusCell(x.status),
        { text: (isNum(p.fp32_max_abs_diff) ? p.fp32_max_abs_diff.toExponential(1) : '–') + ' (' + fmt(p.fp32_atol) + ')' },
        p.tokenizer_mismatches, p.int8_config || '–',
        { text: pct(p.mae_rel_change, 2) + ' (' + pct(p.int8_mae_tol, 1) + ')', cls: p.int8_passed === false ? 'worse' : '' },
        p.tier_agreement, p.min_spearman_vs_fp32, { text: mb((x.sizes || {}).fp32) + ' / ' + mb((x.sizes || {}).int8) },
        { text: sp.length ? Math.max(...sp).toFixed(2) + '×' : '–' }, { text: x.error || '', cls: 'err' }];
    }));
  }

  // ---- all runs --------------------------------------------------------------------------------
  function renderRuns() {
    const runs = filterRuns().filter((r) => state.kind === 'all' || r.kind === state.kind).sort(byStarted).reverse();
    const main = (r) => (r.metrics && (r.metrics.val || r.metrics.final)) || {};
    table('table-runs', ['started', 'kind', 'status', 'run dir', 'model', 'context', 'loss', { label: 'seed', num: true },
      { label: 'val / final MAE', num: true }, { label: 'test MAE', num: true }, { label: 'Spearman', num: true },
      { label: 'tier acc.', num: true }, 'W&B', 'error'],
    runs.map((r) => [shortTime(r.started), r.kind, statusCell(r.status), link(r.name, r.href, r.path), r.model || '–',
      r.context_strategy || '–', r.loss || '–', r.seed, main(r).mae, r.metrics && r.metrics.test ? r.metrics.test.mae : null,
      main(r).spearman, main(r).tier_accuracy,
      r.wandb ? link((r.wandb.mode === 'offline' ? 'offline ' : '') + (r.wandb.id || 'run'), r.wandb.href, r.wandb.sync || r.wandb.href) : '–',
      { text: r.error || '', cls: 'err' }]));
  }

  function render() {
    syncFilterControls();
    const steps = [renderCards, renderAccuracy, renderDims, renderDist, renderPrefilter, renderCost, renderSweeps, renderExports, renderRuns];
    for (const f of steps) f();
    document.body.dataset.filter = state.filter;
    document.body.dataset.dim = state.dim;
  }

  initControls();
  render();
  window.dashboard = { state: state, data: D, render: render };
  window.dashboardReady = true;
})();
