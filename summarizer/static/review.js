// The review page's script: plain JavaScript, no build step, served by the review app.
// The server renders every widget; this script reads a field's widgets back into JSON
// (by their data-shape), posts each change at once with this run's token, and swaps in
// the card and abstract the server renders back. Offsets are code points, as in Python.
"use strict";

(function () {
  const token = document.querySelector('meta[name="review-token"]')?.content || "";
  const body = document.body;
  const recordId = body.dataset.recordId;
  let version = Number(body.dataset.version || 0);
  let selection = null; // {start, end} of the last selection inside the abstract
  let lastEvidence = null; // the evidence widget that last had focus
  let chain = Promise.resolve(); // one change in flight at a time, in order
  let pending = 0;

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

  function isTyping(target) {
    return target instanceof HTMLElement &&
      (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
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

  // -- changes -------------------------------------------------------------------
  function post(url, payload, keepalive) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Review-Token": token },
      body: JSON.stringify(payload),
      credentials: "same-origin",
      keepalive: Boolean(keepalive), // only when the page is going away (64 KB limit)
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

  function queueChange(run) {
    pending += 1;
    body.classList.add("saving");
    chain = chain.then(run).finally(() => {
      pending -= 1;
      if (!pending) body.classList.remove("saving");
    });
    return chain;
  }

  function applyState(data) {
    version = data.version;
    body.dataset.version = String(version);
    const count = document.getElementById("reviewed-count");
    if (count && data.review) {
      const total = Object.keys(data.review.fields).length;
      count.textContent = data.reviewed_count + "/" + total + " fields reviewed";
    }
    if (data.abstract_html !== undefined) {
      document.getElementById("abstract-pane").innerHTML = data.abstract_html;
    }
    if (data.card_html !== undefined) {
      const old = document.getElementById("field-" + data.field);
      const focused = old && old.contains(document.activeElement);
      old.outerHTML = data.card_html;
      const card = document.getElementById("field-" + data.field);
      numberItems(card);
      if (focused || current === old) focus(card);
    }
  }

  function fieldAction(card, action) {
    if (!card) return Promise.resolve();
    const name = card.dataset.field;
    return queueChange(() => {
      const payload = { action, version };
      if (action === "save") Object.assign(payload, readField(card));
      return post(api("/fields/" + encodeURIComponent(name)), payload)
        .then((data) => {
          applyState(data);
          banner("");
          const words = { save: "Saved", accept: "Accepted", reject: "Rejected", clear: "Cleared", reset: "Model's value restored" };
          toast(words[action] + ": " + name);
        })
        .catch((error) => showError(card, error));
    });
  }

  function showError(card, error) {
    const message = error.message || String(error);
    if (card) {
      const box = card.querySelector(".message");
      if (box) { box.textContent = message; box.hidden = false; }
      card.classList.add("invalid");
    }
    if (error.status === 409 || !card) banner(message);
    toast(error.status === 409 ? "Not saved: changed in another tab" : "Not saved", "error");
  }

  function setDone(done) {
    return queueChange(() =>
      post(api("/done"), { done, version })
        .then((data) => {
          applyState(data);
          body.dataset.done = String(done);
          const button = document.getElementById("done-button");
          if (button) {
            button.textContent = done ? "Done ✓" : "Mark done";
            button.className = "button " + (done ? "done" : "primary");
          }
          toast(done ? "Marked done" : "Marked not done");
        })
        .catch((error) => showError(null, error))
    );
  }

  // Save a field soon after it changes (a blur, a choice, a list edit): nothing to lose.
  const timers = new Map();
  function autosave(card) {
    if (!card) return;
    card.classList.add("dirty");
    clearTimeout(timers.get(card.dataset.field));
    timers.set(card.dataset.field, setTimeout(() => {
      timers.delete(card.dataset.field);
      const live = document.getElementById("field-" + card.dataset.field);
      if (live && live.classList.contains("dirty")) fieldAction(live, "save");
    }, 250));
  }

  function flush() {
    for (const [name, timer] of timers) {
      clearTimeout(timer);
      timers.delete(name);
      const card = document.getElementById("field-" + name);
      if (card) fieldAction(card, "save");
    }
    return chain;
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
    // a new list item with no text yet still needs its values: save when it is whole
    fieldAction(card, "save");
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
    const marks = marksOf(path);
    document.querySelectorAll("#abstract mark.active").forEach((m) => m.classList.remove("active"));
    if (!marks.length) return;
    marks.forEach((m) => m.classList.add("active"));
    const pane = document.querySelector(".source");
    const top = marks[0].getBoundingClientRect().top - pane.getBoundingClientRect().top;
    if (top < 40 || top > pane.clientHeight - 40) {
      pane.scrollBy({ top: top - pane.clientHeight / 3, behavior: quiet ? "auto" : "smooth" });
    }
    if (!quiet) marks.forEach(flash);
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
      const input = added.querySelector("input, textarea, select");
      if (input) input.focus();
      return; // saved when its values are filled in (change events)
    }
    const entry = button.closest("li");
    if (act === "remove") entry.remove();
    if (act === "up" && entry.previousElementSibling) entry.parentElement.insertBefore(entry, entry.previousElementSibling);
    if (act === "down" && entry.nextElementSibling) entry.parentElement.insertBefore(entry.nextElementSibling, entry);
    numberItems(card);
    autosave(card);
  }

  // -- focus and keys -----------------------------------------------------------
  let current = null;
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

  function go(url) {
    if (url) flush().then(() => { window.location.href = url; });
  }

  function recordKeys(event) {
    const key = event.key;
    if ((event.ctrlKey || event.metaKey) && key.toLowerCase() === "s") {
      event.preventDefault();
      const card = event.target.closest?.(".field") || current;
      if (card) { timers.delete(card.dataset.field); fieldAction(card, "save"); }
      return;
    }
    if (isTyping(event.target)) {
      if (key === "Escape") {
        const card = event.target.closest(".field");
        event.target.blur();
        focus(card);
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const actions = {
      j: () => step(1),
      k: () => step(-1),
      n: () => go(body.dataset.next),
      p: () => go(body.dataset.prev),
      q: () => go("/queue"),
      a: () => fieldAction(current, "accept"),
      s: () => fieldAction(current, "save"),
      r: () => fieldAction(current, "reject"),
      u: () => fieldAction(current, "clear"),
      e: () => useSelection(lastEvidence && document.contains(lastEvidence) ? lastEvidence
        : current && current.querySelector('[data-shape="evidence"]')),
      d: () => {
        const done = body.dataset.done !== "true";
        flush().then(() => setDone(done)).then(() => { if (done && body.dataset.next) go(body.dataset.next); });
      },
      Enter: () => {
        const input = current && current.querySelector("input, textarea, select");
        if (input) input.focus();
      },
      "?": () => document.getElementById("help").showModal(),
    };
    if (actions[key]) {
      event.preventDefault();
      actions[key]();
    }
  }

  function queueKeys(event) {
    if (isTyping(event.target)) {
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
    const actions = {
      j: () => move(1),
      k: () => move(index < 0 ? 1 : -1),
      Enter: () => { if (rows[index]) window.location.href = rows[index].dataset.href; },
      "/": () => document.getElementById("search").focus(),
      r: () => { const resume = document.querySelector('[data-key="resume"]'); if (resume) resume.click(); },
      "?": () => document.getElementById("help").showModal(),
    };
    if (actions[event.key]) {
      event.preventDefault();
      actions[event.key]();
    }
  }

  // -- wiring ----------------------------------------------------------------------
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-act], [data-act]");
    if (button && button.dataset.act === "help") { document.getElementById("help").showModal(); return; }
    if (!recordId) return;
    const mark = event.target.closest("#abstract mark[data-paths]");
    if (mark && window.getSelection().isCollapsed) { showField(mark.dataset.paths.split(" ")[0]); return; }
    if (!button) {
      const card = event.target.closest(".field");
      if (card) focus(card);
      return;
    }
    const card = button.closest(".field");
    if (card) focus(card);
    const act = button.dataset.act;
    if (["accept", "save", "reject", "clear", "reset"].includes(act)) {
      if (act !== "save") timers.delete(card.dataset.field);
      fieldAction(card, act);
    } else if (["add", "remove", "up", "down"].includes(act)) listAction(button);
    else if (act === "use-selection") useSelection(button.closest('[data-shape="evidence"]'));
    else if (act === "show-quote") showQuote(button.closest('[data-shape="evidence"]').dataset.path);
    else if (act === "done") {
      const done = body.dataset.done !== "true";
      flush().then(() => setDone(done));
    }
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

  document.addEventListener("change", (event) => {
    const card = event.target.closest && event.target.closest(".field");
    if (!card) return;
    if (event.target.matches('[data-part="present"]')) {
      const inner = event.target.closest('[data-shape="optobject"]').querySelector(":scope > .inner");
      inner.hidden = !event.target.checked;
    }
    if (event.target.matches("textarea.quote")) {
      // a typed quote has no selection offsets: the server aligns it
      const widget = event.target.closest('[data-shape="evidence"]');
      delete widget.dataset.start;
      delete widget.dataset.end;
    }
    autosave(card);
  });

  document.addEventListener("input", (event) => {
    const card = event.target.closest && event.target.closest(".field");
    if (card) card.classList.add("dirty");
  });

  document.addEventListener("keydown", recordId ? recordKeys : queueKeys);

  // Leaving the page with a change not yet sent: send it now, outliving the page.
  window.addEventListener("pagehide", () => {
    for (const [name, timer] of timers) {
      clearTimeout(timer);
      timers.delete(name);
      const card = document.getElementById("field-" + name);
      if (card) {
        const payload = Object.assign({ action: "save", version }, readField(card));
        post(api("/fields/" + encodeURIComponent(name)), payload, true).catch(() => {});
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
    const first = cards().find((card) => card.classList.contains("status-unreviewed")) || cards()[0];
    if (first) { current = first; first.classList.add("current"); }
  }
})();
