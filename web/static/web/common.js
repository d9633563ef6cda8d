// What every page of the web app shares: the REST client (session cookie + CSRF token),
// building elements with user strings set as text (never as HTML), links in plain text,
// names and durations in words. Loaded before the page's own script; exposes window.TTD.
"use strict";

(function () {
  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function describe(data) {
    if (!data || typeof data !== "object") return "";
    if (typeof data.detail === "string") return data.detail;
    return Object.entries(data)
      .map(([field, messages]) => field + ": " + [].concat(messages).join(" "))
      .join("; ");
  }

  // A refused request throws an Error with `status` and the parsed body in `data` (a 412
  // carries the current object there).
  function failure(response, data) {
    const error = new Error(describe(data) || response.status + " " + response.statusText);
    error.status = response.status;
    error.data = data;
    return error;
  }

  // `body`: an object sent as JSON, or a FormData sent as multipart (an upload).
  async function api(method, path, body, extraHeaders) {
    const form = body instanceof FormData;
    const headers = { "X-CSRFToken": csrfToken(), Accept: "application/json" };
    if (!form) headers["Content-Type"] = "application/json";
    const response = await fetch("/api/v1/" + path, {
      method: method,
      credentials: "same-origin",
      headers: Object.assign(headers, extraHeaders || {}),
      body: body === undefined ? undefined : form ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (parseError) {
        data = { detail: response.status + " " + response.statusText };
      }
    }
    if (!response.ok) throw failure(response, data);
    return data;
  }

  // A read that revalidates what the page holds: If-None-Match with its ETag; a 304 gives
  // `data: null` (keep what you have). `cache: "no-store"`: the page keeps the copy itself.
  async function revalidate(path, etag) {
    const headers = { Accept: "application/json" };
    if (etag) headers["If-None-Match"] = etag;
    const response = await fetch("/api/v1/" + path, { credentials: "same-origin", headers: headers, cache: "no-store" });
    if (response.status === 304) return { data: null, etag: etag };
    const data = await response.json().catch(() => null);
    if (!response.ok) throw failure(response, data);
    return { data: data, etag: response.headers.get("ETag") };
  }

  // Every page of a list, for the small lists a page needs whole (members, labels, sprints).
  async function all(path) {
    const separator = path.includes("?") ? "&" : "?";
    const rows = [];
    for (let number = 1; ; number += 1) {
      const page = await api("GET", path + separator + "page_size=200&page=" + number);
      if (!page.results) return page; // (a list that is not paginated)
      rows.push(...page.results);
      if (!page.next) return rows;
    }
  }

  function el(tag, attributes, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name === "class") node.className = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children || []) if (child !== null && child !== undefined && child !== false) node.append(child);
    return node;
  }

  // Plain text with its line breaks (CSS white-space: pre-wrap) and http(s) links made
  // clickable: text nodes and <a> elements only, so nothing in it is ever markup.
  function linkified(text) {
    const fragment = document.createDocumentFragment();
    const pattern = /\bhttps?:\/\/[^\s<>"']+/g;
    let last = 0;
    for (const match of String(text || "").matchAll(pattern)) {
      let url = match[0].replace(/[.,;:!?)\]]+$/, "");
      fragment.append(document.createTextNode(text.slice(last, match.index)));
      fragment.append(el("a", { href: url, rel: "noopener noreferrer nofollow", target: "_blank", text: url }));
      last = match.index + url.length;
    }
    fragment.append(document.createTextNode(String(text || "").slice(last)));
    return fragment;
  }

  function nameOf(user) {
    if (!user) return "Someone";
    return user.full_name || user.username || "Someone";
  }

  function initials(user) {
    const parts = nameOf(user).trim().split(/\s+/).filter(Boolean);
    return ((parts[0] || "?")[0] + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
  }

  function duration(minutes) {
    const total = Math.max(0, Math.round(Number(minutes) || 0));
    const hours = Math.floor(total / 60);
    const rest = total % 60;
    if (!hours) return rest + " min";
    return rest ? hours + " h " + rest + " min" : hours + " h";
  }

  function fileSize(bytes) {
    const n = Number(bytes) || 0;
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + " KB";
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }

  function when(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  // A status line: role="status" in the template, so screen readers hear it too.
  function sayer(node) {
    return function say(text, kind) {
      node.textContent = text;
      node.className = "message" + (kind ? " " + kind : "");
    };
  }

  function button(text, onClick, extra) {
    const node = el("button", Object.assign({ type: "button", class: "button", text: text }, extra || {}));
    node.addEventListener("click", onClick);
    return node;
  }

  // A second press confirms: no browser dialog, and a slip of the mouse deletes nothing.
  function confirmButton(text, label, onConfirm, say) {
    const node = button(text, () => {
      if (node.dataset.confirm === "yes") return onConfirm();
      node.dataset.confirm = "yes";
      node.textContent = "Really " + text.toLowerCase() + "?";
      node.setAttribute("aria-label", "Really " + label.charAt(0).toLowerCase() + label.slice(1) + "? Press again to confirm");
      say("Press " + text + " again to confirm.");
    }, { class: "button danger", "aria-label": label });
    return node;
  }

  // A write, then the page read again, then a word of what happened (once the page shows
  // it), or of why it was refused. True when it went through.
  async function act(work, done, reload, say) {
    try {
      await work();
      await reload();
      say(done);
      return true;
    } catch (error) {
      say(error.message, "error");
      return false;
    }
  }

  window.TTD = { api, all, revalidate, button, confirmButton, act, csrfToken, describe, el, linkified, nameOf, initials, duration, fileSize, when, sayer };
})();
