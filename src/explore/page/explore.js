'use strict';
// triceratops explore: builds the page from the embedded report JSON and
// links every stage's lines through the report's provenance (`from`,
// `kernel`, kernels' `values`). Vanilla JS; nothing is fetched.
(function () {
  const R = JSON.parse(document.getElementById('report-data').textContent);
  const GRAPH_STAGES = ['forward', 'train', 'optimized'];
  const ORIGINS = ['input', 'forward', 'loss', 'metric', 'backward', 'guard', 'optimizer'];
  const $ = (id) => document.getElementById(id);

  function esc(s) {
    return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  }
  const arr = (a) => (Array.isArray(a) ? a : []);
  const fmt = (x, d) => (typeof x === 'number' && isFinite(x) ? x.toFixed(d) : '–');

  // ---- indexes over the data ------------------------------------------
  const stageData = {};
  for (const s of GRAPH_STAGES) stageData[s] = R[s] || { text: '', values: [] };
  const kernelsData = R.kernels || { text: '', kernels: [], arena_bytes: 0 };
  const kernels = arr(kernelsData.kernels);
  const values = {}; // stage -> Map(name -> ValueInfo)
  for (const s of GRAPH_STAGES) values[s] = new Map(arr(stageData[s].values).map((v) => [v.name, v]));
  // users[s]: name in the previous stage -> names in stage s whose `from` has it.
  const users = { train: new Map(), optimized: new Map() };
  for (const s of ['train', 'optimized']) {
    for (const v of arr(stageData[s].values)) {
      for (const f of arr(v.from)) {
        if (!users[s].has(f)) users[s].set(f, []);
        users[s].get(f).push(v.name);
      }
    }
  }
  const kernelByIndex = new Map(kernels.map((k, i) => [typeof k.index === 'number' ? k.index : i, k]));

  // ---- syntax highlighting ----------------------------------------------
  const IR_KW = new Set(('graph input param state const output update fused map rows row matmul conv2d maxpool2d maxpool2d_grad ' +
    'conv2d_input_grad conv2d_filter_grad select ' +
    'reduce_sum reduce_max reduce_mean broadcast transpose reshape in results kernels of epilogue commit arena ' +
    'scratch live constants updates batch x').split(' '));
  const IR_RE = /(%[\w.]+(?:@[\w]+(?:\+\d+)?)?)|(\b(?:f|i|u)(?:8|16|32|64)\[[\d,\s]*\]|\bbool\[[\d,\s]*\])|(-?\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b|-?\binf\b|\bnan\b)|([{}])|(\b[a-z_][a-z0-9_]*\b)/g;
  function highlightIr(line) {
    let out = '';
    let last = 0;
    let depth = 0;
    let prevText = '';
    IR_RE.lastIndex = 0;
    let m;
    while ((m = IR_RE.exec(line)) !== null) {
      const between = line.slice(last, m.index);
      out += esc(between);
      prevText = between;
      const t = m[0];
      if (m[1]) out += '<span class="tok-val">' + esc(t) + '</span>';
      else if (m[2]) out += '<span class="tok-ty">' + esc(t) + '</span>';
      else if (m[3]) out += '<span class="tok-num">' + esc(t) + '</span>';
      else if (m[4] === '{') { out += '<span class="tok-br">{</span><span class="tok-body">'; depth++; }
      else if (m[4] === '}') {
        if (depth > 0) { out += '</span>'; depth--; }
        out += '<span class="tok-br">}</span>';
      } else if (IR_KW.has(t) || /=\s$/.test(prevText)) out += '<span class="tok-kw">' + esc(t) + '</span>';
      else out += esc(t);
      last = m.index + t.length;
    }
    out += esc(line.slice(last));
    while (depth-- > 0) out += '</span>';
    return out;
  }
  const CLIF_RE = /(;.*$)|(\bv\d+\b)|(\bblock\d+\b)|(\b(?:[if](?:8|16|32|64|128)(?:x\d+)?)\b)|(-?\b(?:0x[0-9a-f_]+|\d+(?:\.\d+)?)\b)|(\b[a-z_][a-z0-9_]*(?:\.[a-z0-9]+)*\b)/g;
  const CLIF_KW = new Set(['function', 'system_v', 'fast', 'notrap', 'aligned', 'readonly', 'explicit_slot']);
  function highlightClif(line) {
    let out = '';
    let last = 0;
    CLIF_RE.lastIndex = 0;
    let m;
    while ((m = CLIF_RE.exec(line)) !== null) {
      const before = line.slice(last, m.index);
      out += esc(before);
      const t = m[0];
      let cls = '';
      if (m[1]) cls = 'tok-com';
      else if (m[2]) cls = 'tok-val';
      else if (m[3]) cls = 'tok-blk';
      else if (m[4]) cls = 'tok-ty';
      else if (m[5]) cls = 'tok-num';
      else if (CLIF_KW.has(t) || /(^\s*|=\s)$/.test(line.slice(0, m.index))) cls = 'tok-kw';
      out += cls ? '<span class="' + cls + '">' + esc(t) + '</span>' : esc(t);
      last = m.index + t.length;
      if (m[0].length === 0) CLIF_RE.lastIndex++;
    }
    return out + esc(line.slice(last));
  }

  // ---- header -------------------------------------------------------------
  const model = R.model || {};
  $('title').textContent = (model.name || 'model') + ' — triceratops explore';
  $('facts').innerHTML = [['optimizer', model.optimizer], ['loss', model.loss], ['batch', model.batch], ['passes', model.passes],
    ['arena', kernelsData.arena_bytes + ' bytes'], ['kernels', kernels.length]]
    .map(([k, v]) => '<span><b>' + esc(k) + '</b> ' + esc(v === undefined || v === null ? '–' : v) + '</span>').join('');
  $('legend').innerHTML = 'origin: ' + ORIGINS.map((o) => '<span class="chip o-' + o + '">' + o + '</span>').join('');
  $('summary').textContent = model.summary || '';
  (function signature() {
    const sig = R.signature || {};
    let h = '<tr><th></th><th>name</th><th>role</th><th>type</th></tr>';
    arr(sig.args).forEach((a, i) => {
      h += '<tr><th>' + (i === 0 ? 'args' : '') + '</th><td>' + esc(a.name) + '</td><td>' + esc(a.role) + '</td><td>' + esc(a.ty) + '</td></tr>';
    });
    arr(sig.outputs).forEach((o, i) => {
      h += '<tr><th>' + (i === 0 ? 'outputs' : '') + '</th><td>' + esc(o.name) + '</td><td>' + esc(o.role) + '</td><td>' + esc(o.ty) + '</td></tr>';
    });
    h += '<tr><th>updated</th><td colspan="3">' + esc(arr(sig.updated).join(', ') || '–') + '</td></tr>';
    $('signature').innerHTML = h;
  })();

  // ---- stage columns --------------------------------------------------------
  const lineEls = {}; // stage -> Map(name -> line element)
  const kernelLineEls = new Map(); // kernel index -> [line elements]
  const stagesEl = $('stages');
  function column(stage, title) {
    const sec = document.createElement('section');
    sec.className = 'stage';
    sec.dataset.stage = stage;
    sec.innerHTML = '<h2>' + esc(title) + '</h2>';
    stagesEl.appendChild(sec);
    return sec;
  }
  function codeDiv(sec, html) {
    const div = document.createElement('div');
    div.className = 'code';
    div.innerHTML = html;
    sec.appendChild(div);
    return div;
  }
  const codeEls = {};
  for (const s of GRAPH_STAGES) {
    const byLine = new Map();
    for (const v of arr(stageData[s].values)) if (!byLine.has(v.line)) byLine.set(v.line, v);
    const html = String(stageData[s].text || '').split('\n').map((line, i) => {
      const v = byLine.get(i);
      if (!v) return '<div class="line">' + highlightIr(line) + '</div>';
      const o = arr(v.origins)[0];
      return '<div class="line' + (o ? ' o-' + esc(o) : '') + '" data-value="' + esc(v.name) + '">' + highlightIr(line) + '</div>';
    }).join('');
    const titles = { forward: 'forward (before autodiff)', train: 'train step', optimized: 'optimized' };
    codeEls[s] = codeDiv(column(s, titles[s]), html);
    lineEls[s] = new Map();
    for (const el of codeEls[s].querySelectorAll('.line[data-value]')) lineEls[s].set(el.dataset.value, el);
  }
  (function kernelColumn() {
    const text = String(kernelsData.text || '').split('\n');
    const owner = [];
    kernels.forEach((k, i) => {
      const idx = typeof k.index === 'number' ? k.index : i;
      const l = arr(k.lines);
      for (let n = Math.max(0, l[0]); n <= Math.min(l[1], text.length - 1); n++) owner[n] = idx;
    });
    const html = text.map((line, i) => {
      const k = owner[i];
      if (k === undefined) return '<div class="line">' + highlightIr(line) + '</div>';
      const ko = arr((kernelByIndex.get(k) || {}).origins)[0];
      return '<div class="line' + (ko ? ' o-' + esc(ko) : '') + '" data-kernel="' + k + '">' + highlightIr(line) + '</div>';
    }).join('');
    codeEls.kernels = codeDiv(column('kernels', 'kernels'), html);
    for (const el of codeEls.kernels.querySelectorAll('.line[data-kernel]')) {
      const k = Number(el.dataset.kernel);
      if (!kernelLineEls.has(k)) kernelLineEls.set(k, []);
      kernelLineEls.get(k).push(el);
    }
  })();
  const clifSec = column('clif', 'CLIF');
  const clifHead = document.createElement('div');
  clifHead.className = 'clif-head';
  clifHead.textContent = 'select a kernel';
  clifSec.appendChild(clifHead);
  codeEls.clif = codeDiv(clifSec, '');
  const clifCache = new Map();
  function showClif(k) {
    const kern = kernelByIndex.get(k);
    if (!kern) return;
    clifHead.textContent = (kern.name || 'k' + k) + ' (' + (kern.kind || '?') + ')';
    if (!clifCache.has(k)) clifCache.set(k, String(kern.clif || '').split('\n').map(highlightClif).join('\n'));
    codeEls.clif.innerHTML = '<pre class="clif" data-kernel="' + k + '">' + clifCache.get(k) + '</pre>';
    codeEls.clif.scrollTop = 0;
  }

  // ---- layer folding ----------------------------------------------------------
  (function layers() {
    const bar = $('layers');
    const layersList = arr(R.layers);
    if (!layersList.length) { bar.innerHTML = '<span class="muted">no layers</span>'; return; }
    bar.innerHTML = '<span class="muted">fold layer:</span> ' + layersList.map((l) =>
      '<button type="button" class="fold" data-layer="' + esc(l.name) + '">' + esc(l.name) + ' <small>' + esc(l.class || '') + '</small></button>').join('');
    bar.addEventListener('click', (ev) => {
      const b = ev.target.closest('button.fold');
      if (b) toggleFold(b.dataset.layer, b);
    });
  })();
  function onlyLayer(v, name) {
    const ls = arr(v.layers);
    return ls.length === 1 && ls[0] === name;
  }
  function toggleFold(name, button) {
    const fold = !button.classList.contains('folded');
    button.classList.toggle('folded', fold);
    for (const s of GRAPH_STAGES) {
      const div = codeEls[s];
      for (const ph of div.querySelectorAll('.fold-ph')) if (ph.dataset.layer === name) ph.remove();
      const els = []; // in line order, so the placeholder sits at the first
      for (const [n, el] of lineEls[s]) {
        const v = values[s].get(n);
        if (v && onlyLayer(v, name)) els.push(el);
      }
      for (const el of els) el.classList.toggle('folded', fold);
      if (fold && els.length) {
        const ph = document.createElement('div');
        ph.className = 'fold-ph';
        ph.dataset.layer = name;
        ph.textContent = '… ' + els.length + ' line' + (els.length === 1 ? '' : 's') + ' of ' + name + ' folded';
        ph.addEventListener('click', () => toggleFold(name, button));
        els[0].before(ph);
      }
    }
  }

  // ---- selection ----------------------------------------------------------------
  let marked = [];
  function mark(el, cls) {
    if (!el || el.classList.contains('sel')) return;
    el.classList.add(cls);
    marked.push([el, cls]);
  }
  function clearMarks() {
    for (const [el, cls] of marked) el.classList.remove(cls);
    marked = [];
  }
  // The related sets of a selection, by stage, plus kernels.
  function related(stage, key) {
    const rel = { forward: new Set(), train: new Set(), optimized: new Set(), kernels: new Set() };
    const fromOf = (s, names, into) => {
      for (const n of names) { const v = values[s].get(n); if (v) for (const f of arr(v.from)) into.add(f); }
    };
    const usersOf = (s, names, into) => {
      for (const n of names) for (const u of users[s].get(n) || []) into.add(u);
    };
    const kernelsOf = (names) => {
      for (const n of names) { const v = values.optimized.get(n); if (v && typeof v.kernel === 'number') rel.kernels.add(v.kernel); }
    };
    if (stage === 'forward') {
      rel.forward.add(key);
      usersOf('train', [key], rel.train);
      usersOf('optimized', rel.train, rel.optimized);
      kernelsOf(rel.optimized);
    } else if (stage === 'train') {
      rel.train.add(key);
      fromOf('train', [key], rel.forward);
      usersOf('optimized', [key], rel.optimized);
      kernelsOf(rel.optimized);
    } else if (stage === 'optimized') {
      rel.optimized.add(key);
      kernelsOf([key]);
      fromOf('optimized', [key], rel.train);
      fromOf('train', rel.train, rel.forward);
    } else if (stage === 'kernels') {
      rel.kernels.add(key);
      const k = kernelByIndex.get(key);
      for (const n of arr(k && k.values)) rel.optimized.add(n);
      fromOf('optimized', rel.optimized, rel.train);
      fromOf('train', rel.train, rel.forward);
    }
    // A parameter or slot: also the kernel that computes its update.
    const v = stage !== 'kernels' ? values[stage].get(key) : null;
    if (v && (v.op === 'param' || v.op === 'state') && arr(v.params).length) {
      for (const k of kernelByIndex.values()) {
        if (!arr(k.origins).includes('optimizer') || !arr(k.params).some((p) => v.params.includes(p))) continue;
        rel.kernels.add(k.index);
        for (const n of arr(k.values)) rel.optimized.add(n);
      }
    }
    return rel;
  }
  const flowNodes = new Map(); // name -> g.node
  const flowEdges = []; // [from, to, element]
  const profileRows = new Map(); // kernel -> g.prow
  function select(stage, key) {
    clearMarks();
    key = stage === 'kernels' ? Number(key) : String(key);
    const valid = stage === 'kernels' ? kernelByIndex.has(key) : GRAPH_STAGES.includes(stage) && values[stage].has(key);
    if (!valid) { $('details').innerHTML = '<span class="muted">nothing selected</span>'; return; }
    const rel = related(stage, key);
    if (stage === 'kernels') {
      for (const el of kernelLineEls.get(key) || []) mark(el, 'sel');
      mark(profileRows.get(key), 'sel');
    } else {
      mark(lineEls[stage].get(key), 'sel');
      if (stage === 'optimized') mark(flowNodes.get(key), 'sel');
    }
    for (const s of GRAPH_STAGES) for (const n of rel[s]) mark(lineEls[s].get(n), 'hl');
    for (const k of rel.kernels) {
      for (const el of kernelLineEls.get(k) || []) mark(el, 'hl');
      mark(profileRows.get(k), 'hl');
    }
    for (const n of rel.optimized) mark(flowNodes.get(n), 'hl');
    for (const [f, t, el] of flowEdges) if (rel.optimized.has(f) && rel.optimized.has(t)) mark(el, 'hl');
    const clifKernel = stage === 'kernels' ? key : rel.kernels.size === 1 ? [...rel.kernels][0] : null;
    if (clifKernel !== null) showClif(clifKernel);
    details(stage, key);
    for (const s of [...GRAPH_STAGES, 'kernels']) {
      const first = codeEls[s].querySelector('.line.sel:not(.folded), .line.hl:not(.folded)');
      if (first) reveal(codeEls[s], first);
    }
    const node = [...rel.optimized].map((n) => flowNodes.get(n)).find(Boolean);
    if (node) revealNode(node);
  }
  // Scrolls the dataflow box (not the page) to a node, at the current zoom.
  function revealNode(g) {
    const box = $('dataflow');
    const svg = box.querySelector('svg');
    const n = g.__flow;
    if (!svg || !n) return;
    const z = svg.width.baseVal.value / Math.max(1, svg.viewBox.baseVal.width);
    const x = n.x * z;
    const y = n.y * z;
    if (x < box.scrollLeft || x > box.scrollLeft + box.clientWidth) box.scrollLeft = Math.max(0, x - box.clientWidth / 2);
    if (y < box.scrollTop || y > box.scrollTop + box.clientHeight) box.scrollTop = Math.max(0, y - box.clientHeight / 2);
  }
  // Scrolls only the column (never the page) so `el` is visible.
  function reveal(box, el) {
    const top = el.offsetTop;
    if (top < box.scrollTop || top + el.offsetHeight > box.scrollTop + box.clientHeight) {
      box.scrollTop = Math.max(0, top - box.clientHeight / 3);
    }
  }
  function details(stage, key) {
    const rows = [];
    const list = (a) => (arr(a).length ? arr(a).join(', ') : '–');
    if (stage === 'kernels') {
      const k = kernelByIndex.get(key);
      rows.push(['kernel', (k.name || 'k' + key) + ' (' + (k.kind || '?') + ')'], ['values', list(k.values)],
        ['origins', list(k.origins)], ['layers', list(k.layers)], ['params', list(k.params)]);
      const p = R.profile && arr(R.profile.kernels).find((t) => t.kernel === key);
      if (p) {
        rows.push(['JIT', fmt(p.jit_ms, 3) + ' ms (' + fmt(100 * p.jit_share, 1) + '%)'],
          ['interpreter', fmt(p.interp_ms, 3) + ' ms (' + fmt(100 * p.interp_share, 1) + '%)']);
      }
    } else {
      const v = values[stage].get(key);
      const kern = typeof v.kernel === 'number' ? kernelByIndex.get(v.kernel) : null;
      rows.push(['stage', stage], ['name', '%' + v.name], ['op', v.op], ['origins', list(v.origins)], ['layers', list(v.layers)],
        ['params', list(v.params)], ['from', list(v.from)]);
      if (stage === 'optimized') rows.push(['kernel', kern ? (kern.name || 'k' + v.kernel) + ' (' + kern.kind + ')' : '–']);
    }
    $('details').innerHTML = '<dl>' + rows.map(([k, v]) => '<dt>' + esc(k) + '</dt><dd>' + esc(v) + '</dd>').join('') + '</dl>';
  }
  for (const s of GRAPH_STAGES) {
    codeEls[s].addEventListener('click', (ev) => {
      const el = ev.target.closest('.line[data-value]');
      if (el) select(s, el.dataset.value);
    });
  }
  codeEls.kernels.addEventListener('click', (ev) => {
    const el = ev.target.closest('.line[data-kernel]');
    if (el) select('kernels', Number(el.dataset.kernel));
  });

  // ---- search ---------------------------------------------------------------------
  let matches = [];
  let matchAt = -1;
  const search = $('search');
  search.addEventListener('input', () => {
    for (const el of matches) el.classList.remove('match');
    matches = [];
    matchAt = -1;
    const term = search.value.trim().toLowerCase().replace(/^%/, '');
    if (term) {
      for (const s of GRAPH_STAGES) {
        for (const [name, el] of lineEls[s]) {
          if (name.toLowerCase().includes(term)) { el.classList.add('match'); matches.push(el); }
        }
      }
    }
    $('search-count').textContent = term ? matches.length + ' match' + (matches.length === 1 ? '' : 'es') : '';
    if (!matches.length) return;
    for (const st of GRAPH_STAGES) {
      const first = codeEls[st].querySelector('.line.match');
      if (first) reveal(codeEls[st], first);
    }
    matchAt = 0;
    revealMatch();
  });
  search.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter' || !matches.length) return;
    ev.preventDefault();
    matchAt = (matchAt + (ev.shiftKey ? matches.length - 1 : 1)) % matches.length;
    revealMatch();
  });
  function revealMatch() {
    const el = matches[matchAt];
    reveal(el.closest('.code'), el);
    $('search-count').textContent = (matchAt + 1) + ' / ' + matches.length;
  }

  // ---- pass report --------------------------------------------------------------------
  (function passes() {
    const rows = arr(R.passes);
    let h = '<tr><th>rule set</th><th>iters</th><th>nodes</th><th>classes</th><th>stop</th><th>time ms</th>' +
      '<th>cost before → after</th><th>kernels before → after</th><th>fired rules</th></tr>';
    if (!rows.length) h += '<tr><td colspan="9" class="muted">no passes ran (--passes none)</td></tr>';
    for (const p of rows) {
      const fired = arr(p.fired).map((f) => esc(f[0]) + ' ×' + esc(f[1])).join(', ');
      h += '<tr><td>' + esc(p.rule_set) + '</td><td class="num">' + esc(p.iterations) + '</td><td class="num">' + esc(p.nodes) +
        '</td><td class="num">' + esc(p.classes) + '</td><td>' + esc(p.stop) + '</td><td class="num">' + fmt(p.time_ms, 2) +
        '</td><td>' + esc(p.cost_before) + ' → ' + esc(p.cost_after) + '</td><td class="num">' + esc(p.kernels_before) + ' → ' +
        esc(p.kernels_after) + '</td><td class="fired">' + (fired || '–') + '</td></tr>';
    }
    $('passes').innerHTML = h;
  })();

  // ---- profile chart ----------------------------------------------------------------------
  (function profile() {
    const box = $('profile');
    const p = R.profile;
    if (!p) { box.innerHTML = '<p class="muted">not measured (--profile-steps 0)</p>'; return; }
    const rows = arr(p.kernels).slice().sort((a, b) => (b.jit_ms || 0) - (a.jit_ms || 0) || a.kernel - b.kernel);
    const speed = p.jit_step_ms > 0 ? fmt(p.interp_step_ms / p.jit_step_ms, 1) + '×' : '–';
    let h = '<p>step: JIT <b>' + fmt(p.jit_step_ms, 3) + ' ms</b>, interpreter <b>' + fmt(p.interp_step_ms, 3) +
      ' ms</b> (JIT speedup ' + speed + '); median of ' + esc(p.steps) + ' steps, ' + esc(p.threads) +
      ' threads; interpreter time outside kernels ' + fmt(p.interp_unattributed_ms, 3) + ' ms. ' +
      '<span class="chip" style="--c:#3b78e7">JIT</span><span class="chip" style="--c:#f29900">interpreter</span></p>';
    const labelW = 150;
    const barW = 420;
    const rowH = 30;
    const max = Math.max(1e-12, ...rows.map((r) => Math.max(r.jit_ms || 0, r.interp_ms || 0)));
    const w = labelW + barW + 190;
    let svg = '<svg width="' + w + '" height="' + (rows.length * rowH + 4) + '" viewBox="0 0 ' + w + ' ' + (rows.length * rowH + 4) + '">';
    rows.forEach((r, i) => {
      const k = kernelByIndex.get(r.kernel) || {};
      const y = i * rowH + 2;
      const jw = Math.max(1, (barW * (r.jit_ms || 0)) / max);
      const iw = Math.max(1, (barW * (r.interp_ms || 0)) / max);
      svg += '<g class="prow" data-kernel="' + esc(r.kernel) + '"><rect class="bg" x="0" y="' + y + '" width="' + w + '" height="' + (rowH - 2) + '"/>' +
        '<text x="4" y="' + (y + 17) + '">' + esc((k.name || 'k' + r.kernel) + ' ' + (k.kind || '')) + '</text>' +
        '<rect class="jit" x="' + labelW + '" y="' + (y + 2) + '" width="' + jw + '" height="11"/>' +
        '<rect class="interp" x="' + labelW + '" y="' + (y + 14) + '" width="' + iw + '" height="11"/>' +
        '<text x="' + (labelW + jw + 4) + '" y="' + (y + 11) + '">' + fmt(r.jit_ms, 3) + ' ms ' + fmt(100 * r.jit_share, 1) + '%</text>' +
        '<text x="' + (labelW + iw + 4) + '" y="' + (y + 23) + '">' + fmt(r.interp_ms, 3) + ' ms ' + fmt(100 * r.interp_share, 1) + '%</text></g>';
    });
    box.innerHTML = h + svg + '</svg>';
    for (const g of box.querySelectorAll('g.prow')) profileRows.set(Number(g.dataset.kernel), g);
    box.addEventListener('click', (ev) => {
      const g = ev.target.closest('g.prow');
      if (g) select('kernels', Number(g.dataset.kernel));
    });
  })();

  // ---- dataflow -------------------------------------------------------------------------------
  (function dataflow() {
    const box = $('dataflow');
    const d = R.dataflow || {};
    const nodes = arr(d.nodes);
    if (!nodes.length) { box.innerHTML = '<p class="muted">no dataflow</p>'; return; }
    const W = Math.max(1, d.width || 1);
    const H = Math.max(1, d.height || 1);
    let h = '<svg width="' + W + '" height="' + H + '" viewBox="0 0 ' + W + ' ' + H + '"><g class="edges">';
    for (const e of arr(d.edges)) {
      // Through every point with vertical tangents: smooth S-curves
      // between layers.
      const pts = arr(e.points);
      let path = pts.length ? 'M' + pts[0][0] + ',' + pts[0][1] : '';
      for (let i = 1; i < pts.length; i++) {
        const [ax, ay] = pts[i - 1];
        const [bx, by] = pts[i];
        const my = (ay + by) / 2;
        path += ' C' + ax + ',' + my + ' ' + bx + ',' + my + ' ' + bx + ',' + by;
      }
      h += '<path class="edge" d="' + path + '"/>';
    }
    h += '</g>';
    for (const n of nodes) {
      const x = n.x - n.width / 2;
      const y = n.y - n.height / 2;
      h += '<g class="node o-' + esc(n.origin) + '" data-value="' + esc(n.name) + '" transform="translate(' + x.toFixed(1) + ',' + y.toFixed(1) + ')">' +
        '<title>%' + esc(n.name) + '</title><rect width="' + n.width + '" height="' + n.height + '" rx="3"/>' +
        '<text x="' + n.width / 2 + '" y="' + n.height / 2 + '">' + esc(n.label) + '</text></g>';
    }
    box.innerHTML = h + '</svg>';
    const svg = box.querySelector('svg');
    box.querySelectorAll('g.node').forEach((g, i) => {
      g.__flow = nodes[i];
      flowNodes.set(g.dataset.value, g);
    });
    const lines = box.querySelectorAll('path.edge');
    arr(d.edges).forEach((e, i) => flowEdges.push([e.from, e.to, lines[i]]));
    box.addEventListener('click', (ev) => {
      const g = ev.target.closest('g.node');
      if (g) select('optimized', g.dataset.value);
    });
    let zoom = 1;
    const setZoom = (z) => {
      zoom = Math.min(4, Math.max(0.1, z));
      svg.setAttribute('width', W * zoom);
      svg.setAttribute('height', H * zoom);
    };
    $('zoom-in').addEventListener('click', () => setZoom(zoom * 1.25));
    $('zoom-out').addEventListener('click', () => setZoom(zoom / 1.25));
  })();

  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && ev.target !== search) select(null, null);
  });

  window.triceratops = { report: R, select };
})();
