// Injected as the first script of the page under test (tests/explore_browser.rs):
// records every error the page reports before check.js runs, so an error
// thrown while the page builds itself is not missed.
(function () {
  'use strict';
  var cap = { errors: [], warnings: [] };
  window.__exploreCapture = cap;
  window.addEventListener('error', function (e) {
    cap.errors.push('onerror: ' + e.message + ' at ' + e.filename + ':' + e.lineno);
  });
  window.addEventListener('unhandledrejection', function (e) {
    var r = e.reason;
    cap.errors.push('unhandledrejection: ' + (r && r.stack ? r.stack : String(r)));
  });
  function text(args) {
    return Array.prototype.map.call(args, function (a) {
      if (a instanceof Error) return a.stack || String(a);
      if (typeof a === 'object') { try { return JSON.stringify(a); } catch (_) { /* cyclic */ } }
      return String(a);
    }).join(' ');
  }
  // Chromium logs every console level to stderr as INFO: the marker lets
  // the Rust side tell errors from logs in `--enable-logging=stderr`.
  var error = console.error, warn = console.warn;
  console.error = function () {
    cap.errors.push('console.error: ' + text(arguments));
    error.apply(console, ['[console.error]'].concat(Array.prototype.slice.call(arguments)));
  };
  console.warn = function () {
    cap.warnings.push('console.warn: ' + text(arguments));
    warn.apply(console, ['[console.warn]'].concat(Array.prototype.slice.call(arguments)));
  };
})();
