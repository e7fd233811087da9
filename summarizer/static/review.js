// The review page's script: plain JavaScript, no build step, served by the review app.
// The server renders every widget; this script reads a field's widgets back into JSON
// (by their data-shape), sends each change with this run's token, and swaps in what the
// server renders back. Offsets are code points, as in Python.
//
// The browser never decides what was saved. Every action (accept, reject, done, next,
// undo…) goes through one queue, in the order it was asked, and first commits the
// pending edit of the field it acts on (all fields, for a record's action): an edit typed
// and left with Esc, then `a` at once, is saved and then accepted. When the server
// refuses an edit, the actions that stand on it are dropped and the field keeps what
// the reviewer typed, with the server's message. A card is replaced by the server's
// answer only when nothing was typed into it since the action was asked. A value is
// also saved as soon as it is committed (a text left, a choice made).
"use strict";

(function () {
  const token = document.querySelector('meta[name="review-token"]')?.content || "";
  const body = document.body;
  const recordId = body.dataset.recordId;
  let version = Number(body.dataset.version || 0);
  let selection = null; // {start, end, quote} of the last selection inside the abstract
  let lastEvidence = null; // the evidence widget that last had focus
  let current = null; // the field card the keys act on
  let leaving = false; // navigating away: nothing more is sent from this page

  // -- small helpers -----------------------------------------------------------
  function api(path) {
    return "/api/records/" + encodeURIComponent(recordId) + path;
  }

  function toast(text, kind) {
    const box = document.getElementById("toast");
    if (!box) return;
    box.textContent = text;
    box.className = kind || "";
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 6000 : 1600);
  }

  function banner(text) {
    const box = document.getElementById("banner");
    if (!box) return;
    box.textContent = text || "";
    box.hidden = !text;
  }

  // Elements that take keys themselves: a letter typed there is text, Enter presses it.
  const OWN_KEYS = "input, textarea, select, button, a[href], summary, [contenteditable=''], [contenteditable='true']";
  function ownsKeys(target) {
    return target instanceof HTMLElement && target.matches(OWN_KEYS);
  }

  // Elements with data-shape directly under `el` (not inside a nested widget).
  function childWidgets(el) {
    return Array.from(el.querySelectorAll("[data-shape]")).filter(
      (child) => child.parentElement.closest("[data-shape]") === el
    );
  }

  function directItems(list, selector) {
    return Array.from(list.querySelector(":scope > " + selector).children);
  }

  function visible(el) {
    return el.getClientRects().length > 0;
  }

  // -- reading widgets back into JSON -------------------------------------------
  function read(el, path, offsets) {
    const shape = el.dataset.shape;
    const nullable = "nullable" in el.dataset;
    switch (shape) {
      case "text": {
        const value = el.value.trim();
        return value === "" && nullable ? null : value;
      }
      case "int":
      case "number": {
        if (el.value.trim() === "") return null;
        const value = shape === "int" ? parseInt(el.value, 10) : parseFloat(el.value);
        return Number.isNaN(value) ? el.value : value;
      }
      case "bool":
        return el.checked;
      case "enum":
        return el.value === "" && nullable ? null : el.value;
      case "strlist":
        return directItems(el, "ol.lines")
          .map((li) => li.querySelector("input[data-item]").value.trim())
          .filter((text) => text !== "");
      case "evidence": {
        const quote = el.querySelector("textarea.quote").value.trim();
        if (quote && el.dataset.start !== undefined) {
          offsets[path] = [Number(el.dataset.start), Number(el.dataset.end)];
        }
        return quote === "" && nullable ? null : quote;
      }
      case "age": {
        const text = el.querySelector('[data-part="text"]').value.trim();
        const number = el.querySelector('[data-part="number"]').value.trim();
        const unit = el.querySelector('[data-part="unit"]').selectedOptions[0];
        const years = number === "" ? null :
          Math.round(parseFloat(number) * Number(unit.dataset.years) * 10000) / 10000;
        return { age_text: text === "" ? null : text, age_years: Number.isNaN(years) ? number : years };
      }
      case "object": {
        const value = {};
        for (const child of childWidgets(el)) {
          const part = read(child, path, offsets);
          if (child.dataset.shape === "age") Object.assign(value, part);
          else value[child.dataset.key] = part;
        }
        return value;
      }
      case "objlist":
        return directItems(el, "ol.items").map((item, index) => read(item, path + "[" + index + "]", offsets));
      case "optobject": {
        if (!el.querySelector(':scope > label [data-part="present"]').checked) return null;
        return read(el.querySelector(":scope > .inner"), path, offsets);
      }
    }
    return null;
  }

  function readField(card) {
    const name = card.dataset.field;
    const root = card.querySelector(".field-body > [data-shape], .field-body > label > [data-shape]");
    const offsets = {};
    const value = read(root, name, offsets);
    return { value, offsets };
  }

  // -- what was typed and not yet sent ------------------------------------------
  // `edits` counts every edit on the page. Each card (and the decision panel) keeps the
  // count at its last edit (`last`) and at the last save it sent (`sent`): it has an
  // edit to commit while last > sent. A card rendered by the server starts clean.
  let edits = 0;
  const marks = new WeakMap();
  function mark(el) {
    let found = marks.get(el);
    if (!found) { found = { last: 0, sent: 0, noteLast: 0, noteSent: 0 }; marks.set(el, found); }
    return found;
  }
  function edited(el, note) {
    edits += 1;
    const m = mark(el);
    if (note) m.noteLast = edits; else m.last = edits;
    el.classList.add("dirty");
  }
  function isDirty(el) {
    const m = mark(el);
    return m.last > m.sent || m.noteLast > m.noteSent;
  }
  function touchedSince(el, stamp) {
    const m = mark(el);
    return Math.max(m.last, m.noteLast) > stamp;
  }

  // -- the queue -----------------------------------------------------------------
  // One chain runs every change in the order asked. Saves are numbered per field (the
  // decision panel is "#decision"); an action records the last save of each field it
  // stands on, and is dropped when that save was refused: `a` after an edit the schema
  // refuses is never turned into "accepted".
  let chain = Promise.resolve();
  let pending = 0;
  const saves = new Map(); // field -> {seq, refused: Set of seq}

  function saveLog(key) {
    let log = saves.get(key);
    if (!log) { log = { seq: 0, refused: new Set() }; saves.set(key, log); }
    return log;
  }

  function standsOn(keys) {
    return keys.map((key) => [key, saveLog(key).seq]);
  }

  function refused(deps) {
    return deps.some(([key, seq]) => seq > 0 && saveLog(key).refused.has(seq));
  }

  function post(url, payload) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Review-Token": token },
      body: JSON.stringify(payload),
      credentials: "same-origin",
      keepalive: true, // a change under way outlives the page (a small body: well under 64 KB)
    }).then(async (response) => {
      let data = {};
      try { data = await response.json(); } catch (error) { data = { error: response.statusText }; }
      if (!response.ok) {
        const problem = new Error(data.error || response.statusText);
        problem.status = response.status;
        throw problem;
      }
      return data;
    });
  }

  // Run `run(stamp)` after everything asked before it, unless a save in `deps` was
  // refused. `card`: where to show the server's message. Resolves to true when it ran.
  function enqueue(run, card, deps, onRefused) {
    const stamp = edits;
    pending += 1;
    body.classList.add("saving");
    const step = chain.then(() => {
      if (leaving || refused(deps || [])) return false;
      return Promise.resolve(run(stamp)).then(() => true, (error) => {
        if (onRefused) onRefused();
        showError(card, error);
        return false;
      });
    }).finally(() => {
      pending -= 1;
      if (!pending) body.classList.remove("saving");
    });
    chain = step.then(() => undefined);
    return step;
  }

  function queueSave(key, card, run, onRefused) {
    const log = saveLog(key);
    const seq = ++log.seq;
    return enqueue(run, card, [], () => { log.refused.add(seq); if (onRefused) onRefused(); });
  }

  // Queue the save of `card`'s pending edit (and of its note), read as it is now.
  function commit(card) {
    if (!card || !card.isConnected || !card.dataset.field) return;
    const m = mark(card);
    const name = card.dataset.field;
    if (m.last > m.sent) {
      const payload = Object.assign({ action: "save" }, readField(card));
      m.sent = m.last;
      // refused: still to save, so the next action tries again
      queueSave(name, card, (stamp) => send(name, payload, stamp), () => { if (card.isConnected) m.sent = -1; });
    }
    if (m.noteLast > m.noteSent) {
      const note = card.querySelector("[data-note]").value;
      m.noteSent = m.noteLast;
      queueSave(name, card, (stamp) => send(name, { action: "note", note }, stamp), () => { m.noteSent = -1; });
    }
  }

  // The decision panel: the choice and its reason, and the record's note, each saved
  // when it changed (read as they are now).
  function commitPanel() {
    const panel = document.getElementById("decision");
    if (!panel || !isDirty(panel)) return;
    const m = mark(panel);
    if (m.last > m.sent) {
      const chosen = panel.querySelector('input[name="decision"]:checked');
      const decision = chosen && chosen.value ? chosen.value : null;
      const reason = panel.querySelector("[data-decision-reason]").value;
      m.sent = m.last;
      queueSave("#decision", null, (stamp) => post(api("/decision"), { decision, reason, version })
        .then((data) => applyAnswer(data, stamp)), () => { m.sent = -1; });
    }
    if (m.noteLast > m.noteSent) {
      const note = panel.querySelector("[data-record-note]").value;
      m.noteSent = m.noteLast;
      queueSave("#decision", null, (stamp) => post(api("/note"), { note, version })
        .then((data) => applyAnswer(data, stamp)), () => { m.noteSent = -1; });
    }
  }

  function commitAll() {
    commitPanel();
    cards().forEach(commit);
  }

  function send(name, payload, stamp) {
    return post(api("/fields/" + encodeURIComponent(name)), Object.assign({}, payload, { version }))
      .then((data) => applyAnswer(data, stamp));
  }

  // A field action: commit the field's edit, then the action, in order; dropped when
  // that edit is refused.
  function fieldAction(card, action, extra) {
    if (!card || !card.dataset.field) return Promise.resolve(false);
    commit(card);
    const name = card.dataset.field;
    return enqueue((stamp) => send(name, Object.assign({ action }, extra || {}), stamp).then(() => {
      const words = { accept: "Accepted", reject: "Rejected", clear: "Cleared", reset: "Model's value restored", adopt: "Taken", save: "Saved" };
      toast((words[action] || "Saved") + ": " + name);
    }), card, standsOn([name]));
  }

  // A record's action: commit every pending edit first; dropped when one is refused.
  function recordAction(path, payload, then) {
    commitAll();
    return enqueue((stamp) => post(api(path), Object.assign({}, payload, { version })).then((data) => {
      applyAnswer(data, stamp);
      if (then) then(data);
    }), null, everySave());
  }

  function everySave() {
    return standsOn([...cards().map((card) => card.dataset.field), "#decision"]);
  }

  // -- showing the server's answer -------------------------------------------------
  // Where the focus is in `root`, to put it back in the server's redraw of it. A value is
  // counted among the values and a card's button by what it does: the buttons differ with
  // the status (an accepted card has Clear), and a count over all of them moved the caret
  // onto another element, where the next letters acted on the page.
  const VALUES = "input, textarea, select";
  const FOCUSABLE = VALUES + ", button, summary, a[href]";
  function focusPath(root) {
    const active = document.activeElement;
    if (!root.contains(active)) return null;
    if (active === root) return { index: -1 };
    const act = active.dataset.act;
    const among = active.matches(VALUES) ? VALUES : act ? `[data-act="${CSS.escape(act)}"]` : FOCUSABLE;
    const where = { among, index: Array.from(root.querySelectorAll(among)).indexOf(active) };
    try { where.start = active.selectionStart; where.end = active.selectionEnd; } catch (error) { /* no caret */ }
    return where;
  }

  function restoreFocus(root, where) {
    if (!where) return;
    const target = where.index >= 0 ? root.querySelectorAll(where.among)[where.index] : root;
    if (target && visible(target)) {
      target.focus({ preventScroll: true });
      if (where.start != null) { try { target.setSelectionRange(where.start, where.end); } catch (error) { /* no caret */ } }
    } else root.focus({ preventScroll: true });
  }

  function fragment(html) {
    const holder = document.createElement("template");
    holder.innerHTML = html.trim();
    return holder.content.firstElementChild;
  }

  // Put the server's card in; when the reviewer typed into it since the action was
  // asked, keep what they typed and take only the status, flags and buttons.
  function replaceCard(name, html, stamp) {
    const old = document.getElementById("field-" + name);
    if (!old) return;
    const fresh = fragment(html);
    if (touchedSince(old, stamp)) {
      for (const part of ["header", ".flags", ".sides"]) {
        const mine = old.querySelector(":scope > " + part);
        const theirs = fresh.querySelector(":scope > " + part);
        if (mine && theirs) mine.replaceWith(theirs);
      }
      old.querySelectorAll(":scope > .unsupported").forEach((el) => el.remove());
      fresh.querySelectorAll(":scope > .unsupported").forEach((el) => old.querySelector(".field-body").before(el));
      old.className = fresh.className + " dirty" + (old === current ? " current" : "");
      old.dataset.look = fresh.dataset.look;
      return;
    }
    const where = focusPath(old);
    const note = old.querySelector("details.field-note");
    if (note && note.open) fresh.querySelector("details.field-note").open = true;
    old.replaceWith(fresh);
    numberItems(fresh);
    if (current === old) { current = fresh; fresh.classList.add("current"); }
    restoreFocus(fresh, where);
  }

  function applyAnswer(data, stamp) {
    version = data.version;
    body.dataset.version = String(version);
    if (data.done !== undefined) body.dataset.done = String(data.done);
    const count = document.getElementById("reviewed-count");
    if (count && data.review) {
      const total = Object.keys(data.review.fields).length;
      count.textContent = data.reviewed_count + "/" + total + " fields reviewed";
    }
    if (data.abstract_html !== undefined) {
      const pane = document.getElementById("abstract-pane");
      const scroll = pane.closest(".source").scrollTop;
      pane.innerHTML = data.abstract_html;
      pane.closest(".source").scrollTop = scroll;
    }
    if (data.reasons_html !== undefined) document.getElementById("reasons").innerHTML = data.reasons_html;
    if (data.decision_html !== undefined) {
      const panel = document.getElementById("decision");
      if (panel && !touchedSince(panel, stamp)) {
        const where = focusPath(panel);
        const fresh = fragment(data.decision_html);
        panel.replaceWith(fresh);
        restoreFocus(fresh, where);
      }
    }
    for (const [name, html] of Object.entries(data.cards || {})) replaceCard(name, html, stamp);
    if (data.looks) {
      for (const card of cards()) {
        const name = card.dataset.field;
        card.dataset.look = String(data.looks[name] || 0);
        const flags = card.querySelector(":scope > .flags");
        if (flags && data.notes) {
          flags.replaceChildren(...(data.notes[name] || []).map((text) => {
            const p = document.createElement("p");
            p.className = "note";
            p.textContent = text;
            return p;
          }));
        }
      }
    }
    const button = document.getElementById("done-button");
    if (button && data.done !== undefined) {
      button.textContent = data.done ? "Done ✓" : "Mark done";
      button.className = "button " + (data.done ? "done" : "primary");
    }
    banner("");
  }

  function showError(card, error) {
    const message = error.message || String(error);
    if (card && card.isConnected) {
      const box = card.querySelector(".message");
      if (box) { box.textContent = message; box.hidden = false; }
      card.classList.add("invalid");
    }
    if (error.status === 409 || !error.status) banner(message); // stale page, or no server
    toast(error.status === 409 ? "Not saved: changed in another tab" : "Not saved: " + message, "error");
  }

  // -- record actions --------------------------------------------------------------
  function navigate(url) {
    if (!url) return;
    commitAll();
    enqueue(() => { leaving = true; window.location.href = url; }, null, everySave());
  }

  function acceptAll() {
    recordAction("/accept-all", {}, (data) => {
      const names = data.accepted || [];
      toast(names.length ? "Accepted " + names.length + " field" + (names.length === 1 ? "" : "s") : "Every field is already reviewed");
    });
  }

  function undo() {
    recordAction("/undo", {}, (data) => toast("Undone: " + (data.undone || "the last change").replace("_", " ")));
  }

  // `d` (goOn): done, then the next record to do (a record already done stays done);
  // the button: done or not done again.
  function setDone(goOn) {
    const done = goOn || body.dataset.done !== "true";
    recordAction("/done", { done }, (data) => {
      toast(done ? "Marked done" : "Marked not done");
      if (goOn) { leaving = true; window.location.href = data.next_url || "/queue"; }
    });
  }

  function decide(decision) {
    const panel = document.getElementById("decision");
    if (!panel) return;
    const radio = panel.querySelector('input[name="decision"][value="' + decision + '"]');
    if (radio) radio.checked = true;
    edited(panel, false);
    commitPanel();
  }

  // -- evidence and the abstract -----------------------------------------------
  function codepoints(text) {
    return Array.from(text).length;
  }

  // The true text of a piece: a lone control or bidi character is shown as [U+XXXX] (or
  // not at all), its data-c holds the character itself.
  function pieceText(piece) {
    return piece.dataset.c ? String.fromCodePoint(parseInt(piece.dataset.c, 16)) : piece.textContent;
  }

  function offsetOf(node, offset) {
    // node/offset of a selection boundary -> offset in the abstract's text (code points)
    const element = node.nodeType === Node.TEXT_NODE ? node.parentElement : node;
    const piece = element.closest("[data-o]");
    if (piece) {
      const base = Number(piece.dataset.o);
      if (piece.dataset.c) return offset === 0 ? base : base + 1;
      if (node.nodeType !== Node.TEXT_NODE) return offset === 0 ? base : base + codepoints(piece.textContent);
      return base + codepoints(node.data.slice(0, offset));
    }
    // a boundary between pieces: the piece at that child index starts there
    const pieces = Array.from(element.querySelectorAll("[data-o]"));
    if (!pieces.length) return null;
    const before = Array.from(element.childNodes).slice(0, offset);
    const last = before.reverse().find((child) => child.nodeType === Node.ELEMENT_NODE && child.dataset.o !== undefined);
    return last ? Number(last.dataset.o) + codepoints(pieceText(last)) : Number(pieces[0].dataset.o);
  }

  function abstractText() {
    const pieces = document.querySelectorAll("#abstract [data-o]");
    return Array.from(pieces).flatMap((piece) => Array.from(pieceText(piece)));
  }

  function trackSelection() {
    const pane = document.getElementById("abstract");
    const chosen = window.getSelection();
    if (!pane || !chosen || chosen.isCollapsed || !chosen.rangeCount) return;
    const range = chosen.getRangeAt(0);
    if (!pane.contains(range.startContainer) || !pane.contains(range.endContainer)) return;
    let start = offsetOf(range.startContainer, range.startOffset);
    let end = offsetOf(range.endContainer, range.endOffset);
    if (start === null || end === null || end <= start) return;
    const text = abstractText();
    while (start < end && /\s/.test(text[start])) start += 1;
    while (end > start && /\s/.test(text[end - 1])) end -= 1;
    if (end > start) selection = { start, end, quote: text.slice(start, end).join("") };
  }

  function useSelection(widget) {
    if (!widget) { toast("Focus an evidence box first", "error"); return; }
    if (!selection) { toast("Select the words in the abstract first", "error"); return; }
    widget.querySelector("textarea.quote").value = selection.quote;
    widget.dataset.start = String(selection.start);
    widget.dataset.end = String(selection.end);
    lastEvidence = widget;
    const card = widget.closest(".field");
    edited(card, false);
    commit(card);
  }

  function flash(element) {
    element.classList.remove("flash");
    void element.offsetWidth;
    element.classList.add("flash");
  }

  function marksOf(path) {
    return Array.from(document.querySelectorAll("#abstract mark[data-paths]")).filter(
      (m) => m.dataset.paths.split(" ").includes(path)
    );
  }

  // Scroll the abstract pane (not the page) so a field's quote is in view, and mark it.
  function showQuote(path, quiet) {
    const found = marksOf(path);
    document.querySelectorAll("#abstract mark.active").forEach((m) => m.classList.remove("active"));
    if (!found.length) return;
    found.forEach((m) => m.classList.add("active"));
    const pane = document.querySelector(".source");
    const top = found[0].getBoundingClientRect().top - pane.getBoundingClientRect().top;
    if (top < 40 || top > pane.clientHeight - 40) {
      pane.scrollBy({ top: top - pane.clientHeight / 3, behavior: quiet ? "auto" : "smooth" });
    }
    if (!quiet) found.forEach(flash);
  }

  // The evidence path a focused element belongs to (its item's, else the field's first).
  function pathNear(element) {
    const widget = element.closest('[data-shape="object"][data-path]');
    const card = element.closest(".field");
    if (widget && widget.dataset.path) return widget.dataset.path;
    const first = card && card.querySelector('[data-shape="evidence"][data-path]');
    return first ? first.dataset.path : null;
  }

  function showField(path) {
    const name = path.split(/[.[]/)[0];
    const card = document.getElementById("field-" + name);
    if (!card) return;
    const target = card.querySelector('[data-shape="evidence"][data-path="' + CSS.escape(path) + '"]');
    const item = target ? target.closest(".item") || card : card;
    focus(card);
    item.scrollIntoView({ block: "center", behavior: "smooth" });
    flash(item);
  }

  // -- lists ---------------------------------------------------------------------
  function numberItems(root) {
    root.querySelectorAll('[data-shape="objlist"]').forEach((list) => {
      directItems(list, "ol.items").forEach((item, index) => {
        const label = item.querySelector(".item-n");
        if (label) label.textContent = String(index + 1);
      });
    });
  }

  function listAction(button) {
    const act = button.dataset.act;
    const card = button.closest(".field");
    if (act === "add") {
      const widget = button.closest("[data-shape]");
      const list = widget.querySelector(":scope > ol");
      const template = widget.querySelector(":scope > template");
      list.appendChild(template.content.cloneNode(true));
      const added = list.lastElementChild;
      numberItems(card);
      edited(card, false); // an item, even empty, is an edit: accepting first saves it
      const input = added.querySelector("input, textarea, select");
      if (input) input.focus();
      return;
    }
    const entry = button.closest("li");
    const list = entry.parentElement;
    if (act === "remove") {
      const after = entry.nextElementSibling || entry.previousElementSibling;
      entry.remove();
      // focus never falls into nowhere: the item now in its place, else the add button
      const next = after && after.querySelector('button[data-act="remove"]');
      (next || list.parentElement.querySelector(':scope > button[data-act="add"]') || card).focus();
    }
    if (act === "up" && entry.previousElementSibling) list.insertBefore(entry, entry.previousElementSibling);
    if (act === "down" && entry.nextElementSibling) list.insertBefore(entry.nextElementSibling, entry);
    if (act === "up" || act === "down") button.focus();
    numberItems(card);
    edited(card, false);
    commit(card);
  }

  // -- focus and keys -----------------------------------------------------------
  function focus(card) {
    if (!card) return;
    document.querySelectorAll(".field.current").forEach((el) => el.classList.remove("current"));
    card.classList.add("current");
    current = card;
    if (!card.contains(document.activeElement)) card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest" });
  }

  function cards() {
    return Array.from(document.querySelectorAll(".field"));
  }

  function step(delta) {
    const all = cards();
    const index = all.indexOf(current);
    focus(all[Math.max(0, Math.min(all.length - 1, index + delta))] || all[0]);
  }

  // The order `j` walks: unreviewed fields with a strong reason (unaligned evidence, a
  // disagreement, a conflict), then those with a missing value, then the other
  // unreviewed ones, then the reviewed ones; page order within each.
  function lookOrder() {
    const rank = (card) => card.classList.contains("status-unreviewed") ? 2 - Number(card.dataset.look || 0) : 3;
    return cards().map((card, index) => [rank(card), index, card]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((entry) => entry[2]);
  }

  function nextToLook(from) {
    const order = lookOrder();
    return order[(order.indexOf(from) + 1) % order.length] || order[0];
  }

  // Enter on a card: its first value takes the focus (a text's caret at its end, a
  // number selected to be typed over); a list with no item yet: its add button.
  function edit(card) {
    if (!card) return;
    const body_ = card.querySelector(".field-body");
    const input = Array.from(body_.querySelectorAll("input, textarea, select")).find(visible);
    const target = input || Array.from(body_.querySelectorAll("button")).find(visible);
    if (!target) return;
    target.focus();
    if (target.type === "number") target.select();
    else if (target.tagName === "TEXTAREA" || target.type === "text") {
      const end = target.value.length;
      target.setSelectionRange(end, end);
    }
  }

  function note(card) {
    if (!card) return;
    const details = card.querySelector("details.field-note");
    if (!details) return;
    details.open = true;
    details.querySelector("[data-note]").focus();
  }

  function recordKeys(event) {
    if (document.querySelector("dialog[open]")) return;
    const target = event.target;
    const key = event.key;
    const control = event.ctrlKey || event.metaKey;
    if (control && key.toLowerCase() === "s") {
      event.preventDefault();
      const card = (target.closest && target.closest(".field")) || current;
      if (card) { edited(card, false); commit(card); }
      return;
    }
    if (ownsKeys(target)) {
      // typing, a button's Enter, a text box's own Ctrl+Z: the element's. Esc leaves it.
      if (key === "Escape") {
        event.preventDefault();
        const card = target.closest(".field") || current;
        target.blur();
        focus(card);
        commit(card); // what was typed is done: saved now (a no-op save when nothing changed)
        commitPanel();
      }
      return;
    }
    if (control && key.toLowerCase() === "z" && !event.altKey) {
      event.preventDefault();
      undo();
      return;
    }
    if (control || event.altKey) return;
    // a letter acts by itself with Shift off, as its capital with Shift on (Caps Lock aside)
    const letter = key.length === 1 && /[a-z]/i.test(key) ? (event.shiftKey ? key.toUpperCase() : key.toLowerCase()) : key;
    const evidenceOf = () => (lastEvidence && current && current.contains(lastEvidence) ? lastEvidence
      : current && current.querySelector('[data-shape="evidence"]'));
    const actions = {
      j: () => { commit(current); focus(nextToLook(current)); },
      k: () => { commit(current); step(-1); },
      J: () => { commit(current); step(1); },
      K: () => { commit(current); step(-1); },
      n: () => navigate(body.dataset.next),
      p: () => navigate(body.dataset.prev),
      q: () => navigate("/queue"),
      a: () => fieldAction(current, "accept"),
      A: () => acceptAll(),
      s: () => { if (current) { edited(current, false); commit(current); } },
      r: () => fieldAction(current, "reject"),
      c: () => fieldAction(current, "clear"),
      u: () => undo(),
      e: () => useSelection(evidenceOf()),
      m: () => note(current),
      i: () => decide("include"),
      x: () => {
        decide("exclude");
        const reason = document.querySelector("#decision [data-decision-reason]");
        if (reason) reason.focus();
      },
      d: () => setDone(true),
      Enter: () => edit(current),
      "?": () => document.getElementById("help").showModal(),
    };
    if (body.classList.contains("adjudication")) {
      actions["1"] = () => fieldAction(current, "adopt", { side: 0 });
      actions["2"] = () => fieldAction(current, "adopt", { side: 1 });
    }
    if (actions[letter]) {
      event.preventDefault();
      actions[letter]();
    }
  }

  function queueKeys(event) {
    if (document.querySelector("dialog[open]")) return;
    if (ownsKeys(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const rows = Array.from(document.querySelectorAll("tr.row"));
    let index = rows.findIndex((row) => row.classList.contains("current"));
    const move = (delta) => {
      if (!rows.length) return;
      rows.forEach((row) => row.classList.remove("current"));
      index = Math.max(0, Math.min(rows.length - 1, index + delta));
      rows[index].classList.add("current");
      rows[index].scrollIntoView({ block: "nearest" });
    };
    const go = (selector) => { const link = document.querySelector(selector); if (link) link.click(); };
    const actions = {
      j: () => move(1),
      k: () => move(index < 0 ? 1 : -1),
      Enter: () => { if (rows[index]) window.location.href = rows[index].dataset.href; },
      "/": () => document.getElementById("search").focus(),
      r: () => go('[data-key="resume"]'),
      t: () => go('[data-key="stats"]'),
      "?": () => document.getElementById("help").showModal(),
    };
    if (actions[event.key]) {
      event.preventDefault();
      actions[event.key]();
    }
  }

  function pageKeys(event) {
    if (ownsKeys(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "q") { event.preventDefault(); window.location.href = "/queue"; }
    if (event.key === "?") { event.preventDefault(); document.getElementById("help").showModal(); }
  }

  // -- wiring ----------------------------------------------------------------------
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-act], [data-act]");
    if (button && button.dataset.act === "help") { document.getElementById("help").showModal(); return; }
    if (!recordId) return;
    const link = event.target.closest("a[href]");
    if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey && link.origin === window.location.origin) {
      event.preventDefault(); // leave only after what is pending is saved
      navigate(link.getAttribute("href"));
      return;
    }
    const quoteMark = event.target.closest("#abstract mark[data-paths]");
    if (quoteMark && window.getSelection().isCollapsed) { showField(quoteMark.dataset.paths.split(" ")[0]); return; }
    if (!button) {
      const card = event.target.closest(".field");
      if (card) focus(card);
      return;
    }
    const card = button.closest(".field");
    if (card) focus(card);
    const act = button.dataset.act;
    if (["accept", "reject", "clear", "reset"].includes(act)) fieldAction(card, act);
    else if (act === "save") { edited(card, false); commit(card); }
    else if (act === "adopt") fieldAction(card, "adopt", { side: Number(button.dataset.side) });
    else if (["add", "remove", "up", "down"].includes(act)) listAction(button);
    else if (act === "use-selection") useSelection(button.closest('[data-shape="evidence"]'));
    else if (act === "show-quote") showQuote(button.closest('[data-shape="evidence"]').dataset.path);
    else if (act === "done") setDone(false);
  });

  // Keep the selection's offsets: clicking a button may clear the selection itself.
  document.addEventListener("selectionchange", () => { if (recordId) trackSelection(); });

  document.addEventListener("focusin", (event) => {
    const card = event.target.closest && event.target.closest(".field");
    if (card && card !== current) focus(card);
    if (card && recordId) {
      const path = pathNear(event.target);
      if (path) showQuote(path, true); // clicking a field brings its quote into view
    }
    const evidence = event.target.closest && event.target.closest('[data-shape="evidence"]');
    if (evidence) lastEvidence = evidence;
  });

  // Leaving a card (or the decision panel) for another element saves what was typed in it.
  document.addEventListener("focusout", (event) => {
    if (!recordId || !event.relatedTarget) return;
    const card = event.target.closest && event.target.closest(".field");
    if (card && !card.contains(event.relatedTarget)) commit(card);
    const panel = event.target.closest && event.target.closest("#decision");
    if (panel && !panel.contains(event.relatedTarget)) commitPanel();
  });

  function onEdit(event) {
    const target = event.target;
    if (!target.closest) return;
    const panel = target.closest("#decision");
    if (panel) {
      edited(panel, target.matches("[data-record-note]"));
      if (event.type === "change") commitPanel();
      return;
    }
    const card = target.closest(".field");
    if (!card) return;
    if (event.type === "change" && target.matches('[data-part="present"]')) {
      const inner = target.closest('[data-shape="optobject"]').querySelector(":scope > .inner");
      inner.hidden = !target.checked;
    }
    if (event.type === "input" && target.matches("textarea.quote")) {
      // a typed quote has no selection offsets: the server aligns it
      const widget = target.closest('[data-shape="evidence"]');
      delete widget.dataset.start;
      delete widget.dataset.end;
    }
    edited(card, target.matches("[data-note]"));
    // a value committed (a text left, a choice made, an item moved): save it now, so the
    // server's checks and derived values (the age number from its text) show at once
    if (event.type === "change") commit(card);
  }
  document.addEventListener("input", onEdit);
  document.addEventListener("change", onEdit);

  document.addEventListener("keydown", recordId ? recordKeys : body.classList.contains("queue-page") ? queueKeys : pageKeys);

  // Leaving the page with a change not yet sent: send it now, outliving the page.
  window.addEventListener("pagehide", () => {
    if (!recordId) return;
    for (const card of cards()) {
      const m = mark(card);
      if (m.last > m.sent) {
        const payload = Object.assign({ action: "save", version }, readField(card));
        m.sent = m.last;
        post(api("/fields/" + encodeURIComponent(card.dataset.field)), payload).catch(() => {});
      }
    }
  });

  document.querySelectorAll("tr.row[data-href]").forEach((row) => {
    row.addEventListener("click", (event) => {
      if (!event.target.closest("a")) window.location.href = row.dataset.href;
    });
  });

  if (recordId) {
    numberItems(document);
    const first = lookOrder()[0]; // the page opens on the field that most needs a look
    if (first) focus(first);
  }
})();
