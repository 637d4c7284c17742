// Injected before </body> of the page under test (tests/explore_browser.rs).
// After load, selects the kernel of dense.kernel's fused optimizer update by
// a real click, checks the DOM contract, and writes the verdict as JSON into
// the pre#check-result element for the Rust side to read from --dump-dom.
(function () {
  'use strict';
  var STAGES = ['forward', 'train', 'optimized', 'kernels', 'clif'];
  var PARAM = 'dense.kernel';
  var loadMs = null;

  function write(verdict) {
    var pre = document.getElementById('check-result');
    if (!pre) {
      pre = document.createElement('pre');
      pre.id = 'check-result';
      // Hidden: the screenshot should show the page, not the verdict.
      pre.style.display = 'none';
      document.body.appendChild(pre);
    }
    pre.textContent = JSON.stringify(verdict);
  }

  function cssString(s) {
    return '"' + String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
  }

  function run() {
    var failures = [];
    var info = { load_ms: loadMs };
    function fail(msg) { failures.push(msg); }

    var cols = {};
    STAGES.forEach(function (s) {
      var col = document.querySelector('section.stage[data-stage=' + cssString(s) + ']');
      cols[s] = col;
      if (!col) fail('no stage column section.stage[data-stage="' + s + '"]');
      else if (!col.textContent.trim()) fail('stage column "' + s + '" is empty');
    });

    var dataEl = document.querySelector('script[type="application/json"]#report-data');
    var report = null;
    if (!dataEl) fail('no <script type="application/json" id="report-data">');
    else {
      try { report = JSON.parse(dataEl.textContent); } catch (e) { fail('report-data is not JSON: ' + e); }
    }

    var kernel = null;
    if (report) {
      var ks = (report.kernels && report.kernels.kernels) || [];
      for (var i = 0; i < ks.length && !kernel; i++) {
        if (ks[i].kind === 'map' && (ks[i].params || []).indexOf(PARAM) >= 0) kernel = ks[i];
      }
      if (!kernel) fail('no kernel of kind "map" among ' + ks.length + ' updates ' + PARAM);
    }

    if (kernel) {
      // Selecting the parameter itself (train column) highlights the
      // kernel that computes its update. Done first: the kernel's own
      // selection below is what the screenshot shows.
      var param = cols.train && cols.train.querySelector('.line[data-value=' + cssString(PARAM) + ']');
      if (!param) fail('no train line of ' + PARAM);
      else {
        param.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true, view: window }));
        var updateLine = cols.kernels && cols.kernels.querySelector('.line[data-kernel=' + cssString(kernel.index) + ']');
        if (!updateLine || !updateLine.classList.contains('hl')) {
          fail('selecting ' + PARAM + ' does not highlight its update kernel ' + kernel.index);
        }
      }
    }

    if (kernel) {
      var k = kernel.index;
      info.kernel = k;
      info.kernel_values = kernel.values.length;
      var sel = '.line[data-kernel=' + cssString(k) + ']';
      var line = (cols.kernels || document).querySelector(sel);
      if (!line) fail('no ' + sel + ' in the kernels column');
      else {
        // A real event through the page's own listeners, as a user's click.
        line.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true, view: window }));
        if (!line.classList.contains('sel')) fail('the clicked ' + sel + ' has no class "sel"');
        var notHl = [];
        kernel.values.forEach(function (v) {
          var ls = cols.optimized
            ? cols.optimized.querySelectorAll('.line[data-value=' + cssString(v) + ']') : [];
          if (!ls.length) notHl.push(v + ' (no line)');
          Array.prototype.forEach.call(ls, function (l) {
            if (!l.classList.contains('hl')) notHl.push(v);
          });
        });
        if (notHl.length) fail('optimized lines of kernel ' + k + ' not "hl": ' + notHl.join(', '));
        var trainHl = cols.train ? cols.train.querySelectorAll('.line.hl').length : 0;
        info.train_hl = trainHl;
        if (!trainHl) fail('no train-column line is "hl" after selecting kernel ' + k);
        var clif = cols.clif && cols.clif.querySelector('pre.clif[data-kernel=' + cssString(k) + ']');
        if (!clif) fail('the clif column has no pre.clif[data-kernel="' + k + '"]');
        else if (!clif.textContent.trim()) fail('pre.clif[data-kernel="' + k + '"] is empty');
        else if (!clif.getClientRects().length) fail('pre.clif[data-kernel="' + k + '"] is not shown');
        // The dataflow drawing highlights the kernel's values it draws.
        var flowNotHl = [];
        kernel.values.forEach(function (v) {
          var n = document.querySelector('#dataflow g.node[data-value=' + cssString(v) + ']');
          if (n && !n.classList.contains('hl')) flowNotHl.push(v);
        });
        if (flowNotHl.length) fail('#dataflow nodes of kernel ' + k + ' not "hl": ' + flowNotHl.join(', '));
        // The screenshot shows the page as opened: the page itself scrolls
        // each column to the selection, not the window.
      }
    }

    // The rest of the contract (after the click: a page may fill #details then).
    ['#search', 'button.fold[data-layer]', '#passes', '#profile', '#dataflow svg, svg#dataflow',
      '#details', '#summary', '#signature'].forEach(function (q) {
      if (!document.querySelector(q)) fail('no ' + q);
    });

    var cap = window.__exploreCapture;
    if (!cap) fail('capture.js did not run');
    else {
      info.warnings = cap.warnings;
      cap.errors.forEach(function (e) { fail(e); });
    }
    info.ok = failures.length === 0;
    info.failures = failures;
    write(info);
  }

  window.addEventListener('load', function () {
    loadMs = performance.now();
    var done = false;
    function go() {
      if (done) return;
      done = true;
      try { run(); } catch (e) {
        write({ ok: false, load_ms: loadMs, failures: ['check.js threw: ' + (e.stack || e)] });
      }
    }
    // One frame after load: the page may lay out on load itself. Headless
    // Chromium under --virtual-time-budget sometimes draws no frame before
    // it dumps the DOM, so a (virtual, free) 200 ms timer stands in.
    requestAnimationFrame(function () { setTimeout(go, 0); });
    setTimeout(go, 200);
  });
})();
