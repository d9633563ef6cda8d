// The board page: drawn from one board request (and the project's labels), every user
// string set as text, never as HTML. Writes go to the REST API with the session cookie and
// the CSRF token.
"use strict";

(function () {
  const root = document.getElementById("board");
  if (!root) return;
  const projectId = root.dataset.project;
  const canEdit = root.dataset.canEdit === "true";
  const me = root.dataset.user;
  const filters = document.getElementById("board-filters");
  const message = document.getElementById("board-message");
  const state = { columns: [], tasks: new Map(), labels: new Map(), lastSeq: 0, etag: null, board: null, dragging: false, stale: false };
  const { api, el, initials, nameOf } = window.TTD;

  // Moves carry the version the card was drawn from: a card someone else changed since is
  // refused (412), and the board goes back to the truth with a word of why.
  async function move(taskId, columnId, neighbours) {
    const task = state.tasks.get(taskId);
    if (!task) return;
    const body = { column: columnId };
    if (neighbours.before) body.before = neighbours.before;
    else if (neighbours.after) body.after = neighbours.after;
    try {
      const moved = await api("POST", "tasks/" + taskId + "/move/", body, { "If-Match": '"' + task.version + '"' });
      upsert(moved);
      render();
      const column = state.columns.find((c) => c.id === moved.column);
      say("Moved " + moved.key + (column ? " to " + column.name : "") + ".");
    } catch (error) {
      await load();
      if (error.status === 412 || error.status === 409) {
        say("Someone else changed " + task.key + " meanwhile: the board shows it as it is now.", "error");
      } else {
        say("Could not move " + task.key + ": " + error.message, "error");
      }
    }
  }

  function moveControl(task) {
    const id = "move-" + task.id;
    const select = el("select", { id: id, class: "move-to" });
    for (const column of state.columns) {
      const option = el("option", { value: column.id, text: column.name });
      if (column.id === task.column) option.selected = true;
      select.append(option);
    }
    select.addEventListener("change", () => move(task.id, select.value, {}));
    return el("span", { class: "move" }, [
      el("label", { for: id, class: "visually-hidden", text: "Move " + task.key + " to" }),
      select,
    ]);
  }

  function neighboursOf(item) {
    const next = item.nextElementSibling;
    const previous = item.previousElementSibling;
    if (next && next.dataset.task) return { before: next.dataset.task };
    if (previous && previous.dataset.task) return { after: previous.dataset.task };
    return {};
  }

  function sortable(list) {
    if (!canEdit || typeof Sortable === "undefined") return;
    Sortable.create(list, {
      group: "board",
      animation: 120,
      forceFallback: true, // pointer events: the same on touch screens, mice and in tests
      filter: "select, input, button, label",
      preventOnFilter: false,
      // Others' changes arriving mid-drag are drawn once the card is dropped, not under the
      // pointer (drawing replaces the card being dragged).
      onStart: () => {
        state.dragging = true;
      },
      onEnd: (event) => {
        state.dragging = false;
        if (event.from === event.to && event.oldIndex === event.newIndex) {
          if (state.stale) render();
          return;
        }
        const columnId = event.to.closest("[data-column]").dataset.column;
        move(event.item.dataset.task, columnId, neighboursOf(event.item));
      },
    });
  }

  const say = window.TTD.sayer(message);

  function today() {
    const now = new Date();
    return new Date(now.getFullYear(), now.getMonth(), now.getDate());
  }

  // Counted once per render, not once per card.
  function subtaskCounts() {
    const counts = new Map();
    for (const task of state.tasks.values()) if (task.parent) counts.set(task.parent, (counts.get(task.parent) || 0) + 1);
    return counts;
  }

  function card(task, subtasks) {
    const meta = el("div", { class: "card-meta" });
    if (task.priority && task.priority !== "none") {
      meta.append(el("span", { class: "priority priority-" + task.priority, text: task.priority }));
    }
    if (task.story_points !== null && task.story_points !== undefined) {
      meta.append(el("span", { class: "points", title: "Story points", text: task.story_points + " pt" }));
    }
    if (task.due_date) {
      const overdue = !task.is_done && new Date(task.due_date + "T00:00:00") < today();
      meta.append(
        el("span", {
          class: "due" + (overdue ? " overdue" : ""),
          text: (overdue ? "Overdue " : "Due ") + task.due_date,
        }),
      );
    }
    if (subtasks) meta.append(el("span", { class: "subtasks", text: subtasks + " subtask" + (subtasks > 1 ? "s" : "") }));
    if (task.attachment_count) {
      meta.append(el("span", { class: "files", text: task.attachment_count + " file" + (task.attachment_count > 1 ? "s" : "") }));
    }
    const labels = el("ul", { class: "labels", "aria-label": "Labels" });
    for (const id of task.labels || []) {
      const label = state.labels.get(id);
      if (!label) continue;
      const chip = el("li", { class: "label", text: label.name });
      // CSSOM, not a style attribute: the CSP allows no inline styles.
      if (/^#[0-9a-fA-F]{6}$/.test(label.color)) chip.style.setProperty("--label-color", label.color);
      labels.append(chip);
    }
    const assignee = task.assignee_detail
      ? el("span", {
          class: "avatar",
          title: nameOf(task.assignee_detail),
          "aria-label": "Assigned to " + nameOf(task.assignee_detail),
          text: initials(task.assignee_detail),
        })
      : null;
    return el(
      "li",
      { class: "task-card", "data-task": task.id, "aria-label": task.key + " " + task.title },
      [
        el("div", { class: "card-top" }, [el("span", { class: "key", text: task.key }), assignee]),
        el("p", { class: "title" }, [
          el("a", { href: "?task=" + encodeURIComponent(task.id), class: "open-task", "data-open": task.id, text: task.title }),
        ]),
        labels.childElementCount ? labels : null,
        meta.childElementCount ? meta : null,
        canEdit ? moveControl(task) : null,
      ],
    );
  }

  // One place where a task's new state lands, from our own answers and from the socket
  // alike: an older or equal version never overwrites a newer one, so our own change is
  // not applied twice when its event arrives.
  function upsert(task) {
    const known = state.tasks.get(task.id);
    if (known && known.version >= task.version) return false;
    state.tasks.set(task.id, task);
    return true;
  }

  function quickAdd(column) {
    const id = "add-" + column.id;
    const input = el("input", { id: id, name: "title", maxlength: "255", placeholder: "Add a task", autocomplete: "off" });
    const form = el("form", { class: "quick-add" }, [
      el("label", { for: id, class: "visually-hidden", text: "New task in " + column.name }),
      input,
      el("button", { type: "submit", class: "button", text: "Add" }),
    ]);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const title = input.value.trim();
      if (!title) return say("Give the new task a title.", "error");
      input.disabled = true;
      try {
        const task = await api("POST", "tasks/", { project: projectId, column: column.id, title: title });
        upsert(task);
        input.value = "";
        render();
        say("Added " + task.key + ".");
      } catch (error) {
        say("Could not add the task: " + error.message, "error");
      } finally {
        input.disabled = false;
        const again = document.getElementById(id);
        if (again) again.focus();
      }
    });
    return form;
  }

  // Filters apply to what is on the page: no request, and live changes are filtered too.
  // The form is read once per render; null when no filter is set.
  function currentFilter() {
    const wanted = new FormData(filters);
    const filter = {
      mine: Boolean(wanted.get("mine")),
      label: wanted.get("label") || "",
      priority: wanted.get("priority") || "",
      text: String(wanted.get("text") || "").trim().toLowerCase(),
    };
    return filter.mine || filter.label || filter.priority || filter.text ? filter : null;
  }

  function shown(task, filter) {
    if (filter.mine && task.assignee !== me) return false;
    if (filter.label && !(task.labels || []).includes(filter.label)) return false;
    if (filter.priority && task.priority !== filter.priority) return false;
    const haystack = task.key + " " + task.title + " " + (task.description || "");
    return !filter.text || haystack.toLowerCase().includes(filter.text);
  }

  function labelFilter() {
    const select = filters.elements.namedItem("label");
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "", text: "Any" }));
    for (const label of state.labels.values()) {
      const option = el("option", { value: label.id, text: label.name });
      if (label.id === chosen) option.selected = true;
      select.append(option);
    }
  }

  function render() {
    if (state.dragging) {
      state.stale = true;
      return;
    }
    state.stale = false;
    root.replaceChildren();
    const filter = currentFilter();
    const filtering = filter !== null;
    const subtasks = subtaskCounts();
    for (const column of state.columns) {
      const all = [...state.tasks.values()]
        .filter((task) => task.column === column.id)
        .sort((a, b) => a.position - b.position);
      const tasks = filtering ? all.filter((task) => shown(task, filter)) : all;
      const over = column.wip_limit !== null && all.length > column.wip_limit;
      const headingId = "column-" + column.id;
      const total = column.wip_limit !== null ? all.length + " / " + column.wip_limit : String(all.length);
      const count = filtering ? tasks.length + " of " + total : total;
      const heading = el("h2", { id: headingId }, [
        el("span", { class: "column-name", text: column.name }),
        el("span", {
          class: "count" + (over ? " over-limit" : ""),
          title: column.wip_limit !== null ? "Tasks / WIP limit" : "Tasks",
          text: count + (over ? " over the limit" : ""),
        }),
      ]);
      const list = el("ul", { class: "cards", "aria-label": column.name });
      for (const task of tasks) list.append(card(task, subtasks.get(task.id) || 0));
      if (!filtering) sortable(list); // (dropping between hidden cards would guess the place)
      root.append(
        el("section", { class: "column" + (column.is_done ? " done" : "") + (over ? " over" : ""), "data-column": column.id }, [
          heading,
          list,
          canEdit ? quickAdd(column) : null,
        ]),
      );
    }
    root.setAttribute("aria-busy", "false");
  }

  async function load() {
    try {
      const [read, labels] = await Promise.all([
        window.TTD.revalidate("projects/" + projectId + "/board/", state.etag),
        api("GET", "projects/" + projectId + "/labels/?page_size=100"),
      ]);
      state.etag = read.etag;
      const board = read.data || state.board; // 304: what we hold is still the board
      state.board = board;
      state.lastSeq = board.last_seq;
      state.columns = board.columns.map(({ tasks, ...column }) => column);
      state.tasks = new Map();
      for (const column of board.columns) for (const task of column.tasks) state.tasks.set(task.id, task);
      state.labels = new Map((labels.results || labels).map((label) => [label.id, label]));
      labelFilter();
      render();
      document.dispatchEvent(new CustomEvent("ttd:board"));
    } catch (error) {
      root.setAttribute("aria-busy", "false");
      say("Could not load the board: " + error.message, "error");
    }
  }

  // -- live: one socket per tab, the protocol of docs/api.md "WebSocket" -------------------

  const liveState = document.getElementById("live-state");
  const live = { socket: null, attempts: 0, timer: null, subscribed: false, stopped: false };

  function showLive(kind, text) {
    liveState.dataset.state = kind;
    liveState.textContent = text;
  }

  function subscribe() {
    const frame = { type: "subscribe", project: projectId, since: state.lastSeq };
    live.socket.send(JSON.stringify(frame));
  }

  function applyEvent(frame) {
    if (frame.seq <= state.lastSeq) return; // a replay of something we have
    if (frame.seq !== state.lastSeq + 1) {
      subscribe(); // a gap: ask for what is missing, in order
      return;
    }
    state.lastSeq = frame.seq;
    // The open task's drawer (drawer.js) follows the same stream, in the same order.
    document.dispatchEvent(new CustomEvent("ttd:event", { detail: frame }));
    const [kind, verb] = frame.verb.split(".");
    let changed = false;
    if (kind === "task") {
      if (verb === "deleted") changed = state.tasks.delete(frame.target_id);
      else if (frame.data) changed = upsert(frame.data);
    } else if (kind === "attachment") {
      // A file added or removed: the task's count changes, its version does not.
      const known = state.tasks.get(frame.data ? frame.data.task : (frame.changes.task || [])[0]);
      if (known) {
        const count = Math.max(0, (known.attachment_count || 0) + (verb === "created" ? 1 : -1));
        state.tasks.set(known.id, Object.assign({}, known, { attachment_count: count }));
        changed = true;
      }
    } else if (kind === "column" || kind === "label" || kind === "project") {
      load(); // rarer changes: the board is read again, in one request
      return;
    }
    if (changed) render();
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "hello":
        live.attempts = 0;
        subscribe();
        break;
      case "subscribed":
        live.subscribed = true;
        showLive("live", "Live");
        break;
      case "event":
        if (frame.project === projectId) applyEvent(frame);
        break;
      case "resync_required":
        load().then(() => subscribe());
        break;
      case "unsubscribed":
        if (frame.reason === "access_revoked") {
          live.stopped = true;
          showLive("offline", "No access");
          say("You no longer have access to this project.", "error");
          live.socket.close();
        }
        break;
      case "error":
        if (frame.code === "not_found") {
          live.stopped = true;
          showLive("offline", "No access");
          say("You no longer have access to this project.", "error");
        }
        break;
    }
  }

  function connect() {
    if (live.stopped) return;
    clearTimeout(live.timer);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(scheme + "//" + location.host + "/ws/");
    live.socket = socket;
    live.subscribed = false;
    socket.addEventListener("message", (message) => onFrame(JSON.parse(message.data)));
    socket.addEventListener("close", (event) => {
      if (live.socket !== socket || live.stopped) return;
      if (event.code === 4401) {
        live.stopped = true;
        showLive("offline", "Signed out");
        say("Your session has ended: log in again to see live changes.", "error");
        return;
      }
      // A server being replaced says so (1012, 1001): back at once, to another one.
      const restart = event.code === 1012 || event.code === 1001;
      const delay = restart ? Math.random() * 250 : Math.min(30000, 500 * 2 ** live.attempts) * (0.5 + Math.random());
      live.attempts += 1;
      showLive(navigator.onLine === false ? "offline" : "reconnecting", navigator.onLine === false ? "Offline" : "Reconnecting…");
      live.timer = setTimeout(connect, delay);
    });
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible" || live.stopped) return;
    if (live.socket && live.socket.readyState === WebSocket.OPEN) subscribe(); // catch up on what we may have missed
    else connect();
  });
  window.addEventListener("online", () => {
    if (!live.socket || live.socket.readyState !== WebSocket.OPEN) connect();
  });

  // For the drawer: what the board knows, and a way to hand it a task it wrote.
  window.TTD.board = {
    state: state,
    projectId: projectId,
    canEdit: canEdit,
    me: me,
    show(task) {
      if (upsert(task)) render();
    },
    forget(taskId) {
      if (state.tasks.delete(taskId)) render();
    },
  };

  filters.addEventListener("input", () => render());
  filters.addEventListener("submit", (event) => event.preventDefault());

  load().then(connect);
})();
