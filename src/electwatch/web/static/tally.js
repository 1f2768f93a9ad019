/* electwatch tally mode: one big button tapped once per voter entering.
 *
 * Each tap raises the cumulative count and records a reading (FORMATS.md b):
 * {station, counted_since, time (HH:MM, local clock), cumulative, client_id}. Readings
 * wait in localStorage (no pseudonym in the key) and are sent in batches to
 * POST /api/elections/{id}/snapshots whenever the browser is online; the client_id
 * makes a resend after a lost answer harmless (stored once). Taps within the same
 * minute update the newest unsent reading instead of adding one, so a busy station
 * gives one reading per minute, not one per voter. Sign-out clears it all.
 *
 * No inline script, no eval: works under a strict Content-Security-Policy.
 */
(function () {
  "use strict";

  var box = document.getElementById("tally");
  if (!box) return;
  box.hidden = false;

  var KEY = "electwatch:tally";
  var RETRY_MS = 10000;
  var url = box.dataset.snapshotsUrl;
  var CATALOGUE = {};
  try {
    CATALOGUE = JSON.parse(document.getElementById("i18n-messages").textContent) || {};
  } catch (e) { CATALOGUE = {}; }
  function t(msg, values) {
    var text = CATALOGUE[msg] || msg;
    return text.replace(/%\((\w+)\)s/g, function (_, k) {
      return values && values[k] !== undefined ? String(values[k]) : "";
    });
  }
  var LOCAL_DIGITS = document.documentElement.lang === "fa";
  function showDigits(text) {
    text = String(text);
    if (!LOCAL_DIGITS) return text;
    return text.replace(/[0-9]/g, function (d) { return "۰۱۲۳۴۵۶۷۸۹"[Number(d)]; });
  }

  var stationEl = document.getElementById("tally-station");
  var countEl = document.getElementById("tally-count");
  var sinceEl = document.getElementById("tally-since");
  var statusEl = document.getElementById("tally-status");
  var sending = false;

  function uuid4() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) {
      return (x + 0x100).toString(16).slice(1);
    }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" +
      h.slice(16, 20) + "-" + h.slice(20);
  }
  function hhmm(d) {
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }
  function load() {
    try {
      var s = JSON.parse(localStorage.getItem(KEY) || "null");
      if (s && Array.isArray(s.readings)) return s;
    } catch (e) { /* a damaged entry starts afresh */ }
    return { station: stationEl.value, since: null, count: 0, readings: [] };
  }
  function save(s) {
    localStorage.setItem(KEY, JSON.stringify(s));
    render(s);
  }
  function say(kind, text) {
    statusEl.className = "status " + kind;
    statusEl.textContent = text;
  }
  function render(s) {
    countEl.textContent = showDigits(s.count);
    stationEl.value = s.station;
    sinceEl.textContent = s.since ? t("Counting since %(time)s", { time: showDigits(s.since) })
      : t("The count starts at the first tap.");
    var waiting = s.readings.filter(function (r) { return !r.sent; }).length;
    if (waiting) {
      say("warn", t("%(n)s reading(s) waiting to be sent", { n: showDigits(waiting) }));
    }
  }

  function record(s) {
    var now = hhmm(new Date());
    if (!s.since) s.since = now;
    var last = s.readings[s.readings.length - 1];
    if (last && !last.sent && !last.inflight && last.time === now) {
      last.cumulative = s.count;
    } else {
      s.readings.push({
        client_id: uuid4(), station: s.station, counted_since: s.since, time: now,
        cumulative: s.count, sent: false
      });
    }
  }

  document.getElementById("tally-tap").addEventListener("click", function () {
    var s = load();
    s.count += 1;
    record(s);
    save(s);
    if (navigator.onLine) flush();
  });
  document.getElementById("tally-undo").addEventListener("click", function () {
    var s = load();
    if (s.count <= 0) return;
    s.count -= 1;
    record(s);
    save(s);
  });
  document.getElementById("tally-reset").addEventListener("click", function () {
    var s = load();
    if (s.count && !window.confirm(t("Start a new count from zero?"))) return;
    save({ station: stationEl.value, since: null, count: 0,
      readings: s.readings.filter(function (r) { return !r.sent; }) });
  });
  stationEl.addEventListener("change", function () {
    var s = load();
    if (s.count && !window.confirm(t("Start a new count from zero?"))) {
      stationEl.value = s.station;
      return;
    }
    save({ station: stationEl.value, since: null, count: 0,
      readings: s.readings.filter(function (r) { return !r.sent; }) });
  });

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  }

  function flush() {
    if (sending || !navigator.onLine) return;
    var s = load();
    var batch = s.readings.filter(function (r) { return !r.sent; }).slice(0, 500);
    if (!batch.length) return;
    sending = true;
    batch.forEach(function (r) { r.inflight = true; });
    save(s);
    var body = batch.map(function (r) {
      return { station: r.station, counted_since: r.counted_since, time: r.time,
        cumulative: r.cumulative, client_id: r.client_id };
    });
    fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
        "X-CSRF-Token": csrf() },
      body: JSON.stringify({ snapshots: body })
    }).then(function (resp) {
      if (resp.status === 401 || resp.status === 403) {
        throw new Error(t("Your session has ended; sign in again. The readings wait here."));
      }
      if (!resp.ok) throw new Error(t("HTTP %(status)s", { status: resp.status }));
      return resp.json();
    }).then(function (answer) {
      var done = {};
      (answer.results || []).forEach(function (r) {
        if (r.outcome === "created" || r.outcome === "duplicate") done[r.client_id] = true;
      });
      var now = load();
      now.readings.forEach(function (r) {
        if (done[r.client_id]) r.sent = true;
        delete r.inflight;
      });
      /* keep only what still has to go */
      now.readings = now.readings.filter(function (r) { return !r.sent; });
      save(now);
      sending = false;
      if (!now.readings.length) say("ok", t("All readings sent."));
    }, function (err) {
      var now = load();
      now.readings.forEach(function (r) { delete r.inflight; });
      save(now);
      sending = false;
      say("warn", err && err.message ? err.message : t("Offline: readings wait on this phone."));
    });
  }

  window.addEventListener("online", flush);
  window.addEventListener("offline", function () {
    say("warn", t("Offline: readings wait on this phone."));
  });
  window.setInterval(flush, RETRY_MS);

  var logout = document.getElementById("logout-form");
  if (logout) {
    logout.addEventListener("submit", function (ev) {
      var waiting = load().readings.filter(function (r) { return !r.sent; }).length;
      if (waiting && !window.confirm(t("%(n)s reading(s) not sent yet will be deleted from " +
          "this phone. Sign out anyway?", { n: showDigits(waiting) }))) {
        ev.preventDefault();
        return;
      }
      localStorage.removeItem(KEY);
    });
  }

  render(load());
  flush();
})();
