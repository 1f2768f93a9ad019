/* electwatch observer page: report form with an offline outbox.
 *
 * Every report gets a client-generated UUID when the observer presses "Send". The
 * report is written to localStorage (the outbox) BEFORE any network attempt, so a
 * lost connection, a closed tab or a flat battery never loses it. The outbox is
 * sent whenever the browser is online: at page load, on the "online" event and on
 * a timer. The server treats the UUID as an idempotency key, so a resend after a
 * lost acknowledgement stores the report once. Photos wait in IndexedDB (blobs do
 * not fit in localStorage); they are uploaded first and referenced by SHA-256.
 *
 * The form also works without this script (a plain POST to /observer/report): this
 * is a progressive enhancement. The outbox key holds no pseudonym (a seized phone's
 * storage does not name its observer) and the outbox is cleared at sign-out.
 * Messages come translated from the page (#i18n-messages, a JSON catalogue); digits
 * typed in Persian or Arabic-Indic script are read as numbers.
 *
 * No inline script, no eval: works under a strict Content-Security-Policy.
 */
(function () {
  "use strict";

  var form = document.getElementById("report-form");
  if (!form) return;

  var cfg = form.dataset;
  var OUTBOX = "electwatch:outbox";
  var DRAFT = "electwatch:draft";
  var CATALOGUE = {};
  try {
    CATALOGUE = JSON.parse(document.getElementById("i18n-messages").textContent) || {};
  } catch (e) { CATALOGUE = {}; }
  /* the translation of an English message id, with %(name)s values filled in */
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
  /* Persian (U+06F0-06F9) and Arabic-Indic (U+0660-0669) digits to ASCII; the server
   * reads them the same way (core.numbers), this only lets the outbox check them */
  function asciiDigits(text) {
    return String(text).replace(/[\u06F0-\u06F9]/g, function (c) {
      return String(c.charCodeAt(0) - 0x06F0);
    }).replace(/[\u0660-\u0669]/g, function (c) {
      return String(c.charCodeAt(0) - 0x0660);
    }).replace(/[\u066C,\u060C\s]/g, "");
  }
  var RETRY_MS = parseInt(cfg.retryMs || "10000", 10);
  var statusEl = document.getElementById("report-status");
  var outboxEl = document.getElementById("outbox");
  var outboxList = document.getElementById("outbox-list");
  var outboxCount = document.getElementById("outbox-count");
  var sentList = document.getElementById("sent-list");
  var flushing = false;

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  }

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

  /* ---- outbox in localStorage ------------------------------------------------ */
  function loadOutbox() {
    try {
      var v = JSON.parse(localStorage.getItem(OUTBOX) || "[]");
      return Array.isArray(v) ? v : [];
    } catch (e) {
      return [];
    }
  }
  function saveOutbox(items) {
    localStorage.setItem(OUTBOX, JSON.stringify(items));
    renderOutbox(items);
  }
  function updateItem(id, patch) {
    var items = loadOutbox();
    items.forEach(function (it) {
      if (it.report.id === id) Object.assign(it, patch);
    });
    saveOutbox(items);
  }
  function removeItem(id) {
    saveOutbox(loadOutbox().filter(function (it) { return it.report.id !== id; }));
  }

  function say(kind, text) {
    statusEl.className = "status " + kind;
    statusEl.textContent = text;
  }

  function describe(r) {
    return t("%(station)s · %(start)s–%(end)s · %(voters)s voters", {
      station: r.station, start: showDigits(r.window_start), end: showDigits(r.window_end),
      voters: showDigits(r.voters)
    });
  }

  function renderOutbox(items) {
    items = items || loadOutbox();
    outboxList.textContent = "";
    items.forEach(function (it) {
      var li = document.createElement("li");
      li.dataset.reportId = it.report.id;
      var text = document.createElement("span");
      text.textContent = describe(it.report) + " ";
      var pill = document.createElement("span");
      pill.className = "pill " + (it.error ? "quarantined" : "pending");
      pill.textContent = it.error ? t("rejected: %(why)s", { why: it.error })
        : t("waiting to send");
      li.appendChild(text);
      li.appendChild(pill);
      if (it.error) {
        var drop = document.createElement("button");
        drop.type = "button";
        drop.className = "link";
        drop.textContent = t("discard");
        drop.setAttribute("aria-label", t("Discard rejected report %(report)s",
          { report: describe(it.report) }));
        drop.addEventListener("click", function () {
          removeItem(it.report.id);
          deletePhotos(it.report.id);
        });
        li.appendChild(document.createTextNode(" "));
        li.appendChild(drop);
      }
      outboxList.appendChild(li);
    });
    outboxCount.textContent = showDigits(items.length);
    outboxEl.hidden = items.length === 0;
  }

  /* ---- photos waiting in IndexedDB ------------------------------------------- */
  var dbPromise = null;
  function db() {
    if (!window.indexedDB) return Promise.reject(new Error("no IndexedDB"));
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var req = indexedDB.open("electwatch-evidence", 1);
        req.onupgradeneeded = function () { req.result.createObjectStore("photos"); };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbPromise;
  }
  function idb(mode, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var tx = d.transaction("photos", mode);
        var out = fn(tx.objectStore("photos"));
        tx.oncomplete = function () { resolve(out && out.result); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }
  function putPhotos(id, files) {
    if (!files.length) return Promise.resolve();
    return idb("readwrite", function (st) { return st.put(files, id); });
  }
  function getPhotos(id) {
    return idb("readonly", function (st) { return st.get(id); }).then(function (v) {
      return v || [];
    }, function () { return []; });
  }
  function deletePhotos(id) {
    return idb("readwrite", function (st) { return st.delete(id); }).catch(function () {});
  }

  /* ---- the half-typed form survives a reload --------------------------------- */
  var DRAFT_FIELDS = ["station", "window_start", "window_end", "voters", "notes",
    "outcome_blank", "outcome_invalid"];
  for (var row = 1; form.elements["outcome_name_" + row]; row++) {
    DRAFT_FIELDS.push("outcome_name_" + row, "outcome_count_" + row);
  }
  function saveDraft() {
    var d = {};
    DRAFT_FIELDS.forEach(function (n) { d[n] = form.elements[n].value; });
    d.hourly = hourInputs().map(function (i) { return i.value; });
    localStorage.setItem(DRAFT, JSON.stringify(d));
  }
  function restoreDraft() {
    var d;
    try { d = JSON.parse(localStorage.getItem(DRAFT) || "null"); } catch (e) { d = null; }
    if (!d) return;
    DRAFT_FIELDS.forEach(function (n) {
      if (d[n] !== undefined && d[n] !== "" && form.elements[n]) form.elements[n].value = d[n];
    });
    hourInputs().forEach(function (inp, i) {
      if (d.hourly && d.hourly[i]) inp.value = d.hourly[i];
    });
  }
  function hourInputs() {
    return Array.prototype.slice.call(form.querySelectorAll("input[data-hour]"));
  }

  /* ---- building and validating a report -------------------------------------- */
  function hours(clockText) {
    var m = /^(\d\d):(\d\d)$/.exec(clockText);
    return m ? Number(m[1]) + Number(m[2]) / 60 : NaN;
  }
  function collect() {
    var start = form.elements.window_start.value;
    var end = form.elements.window_end.value === "00:00" ? "24:00" : form.elements.window_end.value;
    var h0 = hours(start), h1 = hours(end);
    var voters = asciiDigits(form.elements.voters.value.trim());
    /* hourly counts: the polling hours that overlap the watch window */
    var inWindow = [], outside = false;
    hourInputs().forEach(function (inp) {
      var h = Number(inp.dataset.hour), v = asciiDigits(inp.value.trim());
      if (h + 1 > h0 && h < h1) inWindow.push(v);
      else if (v !== "" && Number(v) !== 0) outside = true;
    });
    var anyHourly = inWindow.some(function (v) { return v !== ""; });
    var hourly = anyHourly ? inWindow.map(function (v) {
      return v === "" ? 0 : (/^\d+$/.test(v) ? Number(v) : NaN);
    }) : null;
    /* result protocol: named rows plus blank and invalid (sent as digits; the server
     * normalizes names and reads counts with the shared parser) */
    var outcomes = {}, anyOutcome = false, badOutcome = false;
    function addOutcome(name, raw, fixed) {
      raw = asciiDigits(raw.trim());
      if (!raw && (fixed || !name)) return; /* nothing given */
      if (!name || !/^\d+$/.test(raw)) { badOutcome = true; return; }
      outcomes[name] = Number(raw);
      anyOutcome = true;
    }
    for (var i = 1; form.elements["outcome_name_" + i]; i++) {
      addOutcome(form.elements["outcome_name_" + i].value.trim(),
        form.elements["outcome_count_" + i].value, false);
    }
    ["blank", "invalid"].forEach(function (key) {
      var el = form.elements["outcome_" + key];
      if (el) addOutcome(key, el.value, true);
    });
    return {
      report: {
        id: uuid4(),
        station: form.elements.station.value,
        window_start: start,
        window_end: end,
        voters: voters === "" ? null : (/^\d+$/.test(voters) ? Number(voters) : NaN),
        hourly: hourly,
        notes: form.elements.notes.value.trim() || null,
        outcomes: anyOutcome ? outcomes : null,
        client_time: new Date().toISOString()
      },
      hourlyOutside: outside,
      badOutcome: badOutcome
    };
  }
  function problems(c) {
    var r = c.report, p = [];
    if (!r.station) p.push(t("choose a station"));
    if (!/^\d\d:\d\d$/.test(r.window_start) || !/^\d\d:\d\d$/.test(r.window_end)) {
      p.push(t("enter the watch window"));
    } else if (r.window_end <= r.window_start) {
      p.push(t("make the watch end after it starts"));
    }
    if (r.voters === null || !Number.isInteger(r.voters) || r.voters < 0) {
      p.push(t("enter the voters counted (a whole number)"));
    }
    if (r.hourly) {
      if (r.hourly.some(function (v) { return !Number.isInteger(v) || v < 0; })) {
        p.push(t("use whole numbers for the hourly counts"));
      } else {
        var sum = r.hourly.reduce(function (s, v) { return s + v; }, 0);
        if (r.voters !== null && sum !== r.voters) {
          p.push(t("make the hourly counts add up to the voters counted (%(sum)s ≠ %(voters)s)",
            { sum: showDigits(sum), voters: showDigits(r.voters) }));
        }
      }
    }
    if (c.hourlyOutside) p.push(t("leave hours outside your watch window empty"));
    if (c.badOutcome) p.push(t("give a name and a whole number for each result row"));
    return p;
  }

  /* ---- sending --------------------------------------------------------------- */
  function Rejected(message) { this.message = message; }
  function SignedOut() { this.message = "signed out"; }

  function detail(resp) {
    return resp.json().then(function (b) {
      var d = b && b.detail;
      if (Array.isArray(d)) d = d.map(function (x) { return x.msg || String(x); }).join("; ");
      return d ? String(d) : t("HTTP %(status)s", { status: resp.status });
    }, function () { return t("HTTP %(status)s", { status: resp.status }); });
  }

  function post(url, body, isJson) {
    var headers = { "X-CSRF-Token": csrf(), "Accept": "application/json" };
    if (isJson) headers["Content-Type"] = "application/json";
    return fetch(url, {
      method: "POST", credentials: "same-origin", headers: headers,
      body: isJson ? JSON.stringify(body) : body
    }).then(function (resp) {
      if (resp.ok) return resp.json().catch(function () { return {}; });
      if (resp.status === 401) throw new SignedOut();
      if (resp.status >= 400 && resp.status < 500 && resp.status !== 408 &&
          resp.status !== 429) {
        return detail(resp).then(function (m) {
          /* a stale CSRF token is a session problem, not a bad report: keep it */
          if (resp.status === 403 && /csrf/i.test(m)) throw new SignedOut();
          throw new Rejected(m);
        });
      }
      throw new Error("HTTP " + resp.status); /* server trouble: try again later */
    });
  }

  /* The report goes first (its UUID makes a resend harmless), then its photos:
   * evidence is attached to a stored report. An item whose report is stored but
   * whose photos are not yet uploaded stays in the outbox with ``stored`` set. */
  function uploadPhotos(item) {
    if (!item.photos) return Promise.resolve();
    var url = cfg.evidenceUrl.replace("{id}", encodeURIComponent(item.report.id));
    return getPhotos(item.report.id).then(function (files) {
      return files.reduce(function (p, f) {
        return p.then(function () {
          var fd = new FormData();
          fd.append("file", f, "photo");
          return post(url, fd, false);
        });
      }, Promise.resolve());
    });
  }

  function sendOne(item) {
    var first = item.stored ? Promise.resolve(item.stored)
      : post(item.url, item.report, true).then(function (stored) {
        updateItem(item.report.id, { stored: { status: stored.status || "submitted" } });
        return stored;
      });
    return first.then(function (stored) {
      return uploadPhotos(item).then(function () { return stored; });
    }).then(function (stored) {
      removeItem(item.report.id);
      deletePhotos(item.report.id);
      addSent(item.report, stored);
      return true;
    });
  }

  function addSent(r, stored) {
    var li = document.createElement("li");
    li.dataset.reportId = r.id;
    li.textContent = describe(r) + " ";
    var pill = document.createElement("span");
    pill.className = "pill verified";
    pill.textContent = t("received");
    li.appendChild(pill);
    sentList.insertBefore(li, sentList.firstChild);
    document.getElementById("sent").hidden = false;
  }

  function flush() {
    if (flushing || !navigator.onLine) return Promise.resolve();
    var pending = loadOutbox().filter(function (it) { return !it.error; });
    if (!pending.length) return Promise.resolve();
    flushing = true;
    var sent = 0;
    return pending.reduce(function (p, item) {
      return p.then(function () {
        if (!navigator.onLine) return;
        return sendOne(item).then(function () { sent += 1; }, function (err) {
          if (err instanceof Rejected) updateItem(item.report.id, { error: err.message });
          else throw err;
        });
      });
    }, Promise.resolve()).then(function () {
      flushing = false;
      var left = loadOutbox();
      if (sent && !left.length) say("ok", t("Sent. The coordinators have your report."));
      else if (left.some(function (it) { return it.error; })) {
        say("bad", t("A report was refused by the server; see the list below."));
      }
    }, function (err) {
      flushing = false;
      if (err instanceof SignedOut) {
        say("bad", t("Your session has ended. Sign in again on this phone: the report waits " +
          "here and is sent after you sign in."));
        return;
      }
      say("warn", t("Saved on this phone; it will be sent automatically when the connection " +
        "is back."));
    });
  }

  form.addEventListener("input", saveDraft);
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var c = collect();
    var report = c.report;
    var p = problems(c);
    if (p.length) {
      say("bad", t("Please %(problems)s.", { problems: p.join(LOCAL_DIGITS ? "، " : ", ") }));
      return;
    }
    var files = Array.prototype.slice.call(form.elements.photos.files || []);
    var item = { report: report, url: cfg.reportsUrl, photos: files.length };
    var items = loadOutbox();
    items.push(item);
    saveOutbox(items); /* the draft is safe from here on */
    putPhotos(report.id, files).catch(function () {
      say("warn", t("Photos could not be kept on this phone; the count is kept."));
    }).then(function () {
      form.reset();
      localStorage.removeItem(DRAFT);
      if (navigator.onLine) {
        say("warn", t("Sending…"));
        flush();
      } else {
        say("warn", t("You are offline. The report is saved on this phone and will be sent " +
          "automatically when the connection is back."));
      }
    });
  });

  window.addEventListener("online", function () { flush(); });
  window.addEventListener("offline", function () {
    if (loadOutbox().length) say("warn", t("Offline: reports wait on this phone."));
  });

  /* Sign-out empties this phone's outbox, draft and waiting photos: a phone taken
   * from an observer keeps nothing. Unsent reports are lost, so ask first. */
  var logout = document.getElementById("logout-form");
  if (logout) {
    logout.addEventListener("submit", function (ev) {
      var waiting = loadOutbox().filter(function (it) { return !it.error; }).length;
      if (waiting && !window.confirm(t("%(n)s report(s) not sent yet will be deleted from " +
          "this phone. Sign out anyway?", { n: showDigits(waiting) }))) {
        ev.preventDefault();
        return;
      }
      localStorage.removeItem(OUTBOX);
      localStorage.removeItem(DRAFT);
      try { indexedDB.deleteDatabase("electwatch-evidence"); } catch (e) { /* none */ }
    });
  }
  window.setInterval(flush, RETRY_MS);

  restoreDraft();
  renderOutbox();
  flush();
})();
