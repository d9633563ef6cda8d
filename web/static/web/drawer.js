// The task drawer on the board page (?task=<id>): every field, the comments, the history in
// words and the timer. It follows the board's stream (the "ttd:event" events board.js
// dispatches) so what it shows stays true while it is open. User strings are set as text.
"use strict";

(function () {
  const drawer = document.getElementById("drawer");
  if (!drawer) return;
  const { api, all, el, linkified, nameOf, duration, fileSize, when } = window.TTD;
  const body = document.getElementById("drawer-body");
  const heading = document.getElementById("drawer-title");
  const say = window.TTD.sayer(document.getElementById("drawer-message"));
  const root = document.getElementById("board");
  const isAdmin = root.dataset.isAdmin === "true";
  const PRIORITIES = ["none", "low", "medium", "high", "urgent"];
  const open = { task: null, members: null, sprints: null, comments: [], files: [], activity: [], timer: null, dirty: false, opener: null, loading: null, load: 0, editing: null, confirming: null, discard: false };
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

  function board() {
    return window.TTD.board;
  }

  function columnName(id) {
    const column = board().state.columns.find((c) => c.id === id);
    return column ? column.name : "a deleted column";
  }

  function memberName(id) {
    if (!id) return "nobody";
    const member = memberOf(id);
    return member ? nameOf(member) : "a former member";
  }

  function taskKey(id) {
    const task = board().state.tasks.get(id);
    return task ? task.key : "another task";
  }

  // -- the history in words ---------------------------------------------------------------

  const FIELD_NAMES = {
    title: "the title",
    description: "the description",
    priority: "the priority",
    story_points: "the story points",
    estimate_minutes: "the estimate",
    due_date: "the due date",
  };

  function shownValue(field, value) {
    if (value === null || value === undefined || value === "") return "none";
    if (field === "estimate_minutes") return duration(value);
    if (field === "title") return "“" + value + "”";
    return String(value);
  }

  function change(field, [before, after]) {
    switch (field) {
      case "column":
        return "moved it from " + columnName(before) + " to " + columnName(after);
      case "position":
      case "is_done":
      case "completed_at":
        return null;
      case "assignee":
        return after ? "assigned it to " + memberName(after) : "unassigned " + memberName(before);
      case "labels":
        return "changed the labels";
      case "sprint":
        return after ? "put it in a sprint" : "took it out of its sprint";
      case "parent":
        return after ? "made it a subtask of " + taskKey(after) : "made it a top-level task";
      case "description":
        return "edited the description";
      default:
        return "changed " + (FIELD_NAMES[field] || field.replace(/_/g, " ")) + " from " + shownValue(field, before) + " to " + shownValue(field, after);
    }
  }

  function sentence(event, task) {
    const who = nameOf(event.actor_detail);
    const changes = event.changes || {};
    switch (event.verb) {
      case "task.created":
        return who + " created " + task.key;
      case "task.moved":
        if (changes.column) return who + " moved " + task.key + " from " + columnName(changes.column[0]) + " to " + columnName(changes.column[1]);
        return who + " reordered " + task.key + " in its column";
      case "task.updated": {
        const parts = Object.entries(changes).map(([field, pair]) => change(field, pair)).filter(Boolean);
        return who + " " + (parts.length ? parts.join(", ") : "updated " + task.key);
      }
      case "comment.created":
        return who + " commented";
      case "comment.updated":
        return who + " edited a comment";
      case "comment.deleted":
        return who + " deleted a comment";
      case "time_entry.created":
        return who + " logged " + duration(event.data ? event.data.minutes : 0) + (event.data && !event.data.ended_at ? " (timer started)" : "");
      case "time_entry.updated":
        return who + " updated a time entry" + (event.data && event.data.ended_at ? " (" + duration(event.data.minutes) + ")" : "");
      case "time_entry.deleted":
        return who + " deleted a time entry";
      case "attachment.created":
        return who + " attached " + (event.data ? event.data.filename : "a file");
      case "attachment.deleted":
        return who + " removed the file " + (changes.filename ? changes.filename[0] : "");
      default:
        return who + " " + event.verb.replace(".", " ").replace(/_/g, " ");
    }
  }

  // -- the fields -------------------------------------------------------------------------

  // A current value missing from the list (a list being read again, say) stays chosen, so
  // saving never clears a field nobody touched.
  function options(select, choices, chosen) {
    const wanted = chosen || "";
    if (wanted && !choices.some(([value]) => value === wanted)) choices = choices.concat([[wanted, "(as it is)"]]);
    for (const [value, text] of choices) {
      const option = el("option", { value: value, text: text });
      if (value === wanted) option.selected = true;
      select.append(option);
    }
    return select;
  }

  function field(id, text, control) {
    return el("div", { class: "field" }, [el("label", { for: id, text: text }), control]);
  }

  function descriptionView(task) {
    const text = el("div", { class: "description", id: "drawer-description" });
    if (task.description) text.append(linkified(task.description));
    else text.append(el("span", { class: "meta", text: "No description." }));
    return text;
  }

  function form(task) {
    const state = board().state;
    const title = el("input", { id: "f-title", name: "title", required: true, maxlength: "255", value: task.title });
    const description = el("textarea", { id: "f-description", name: "description", rows: "6", maxlength: "50000" });
    description.value = task.description || "";
    const descriptionField = field("f-description", "Description", description);
    descriptionField.hidden = true;
    const editDescription = el("button", { type: "button", class: "link", text: "Edit description" });
    editDescription.addEventListener("click", () => {
      descriptionField.hidden = false;
      editDescription.hidden = true;
      description.focus();
    });
    const priority = options(el("select", { id: "f-priority", name: "priority" }), PRIORITIES.map((p) => [p, p[0].toUpperCase() + p.slice(1)]), task.priority);
    const assignee = options(
      el("select", { id: "f-assignee", name: "assignee" }),
      [["", "Nobody"]].concat((open.members || []).map((m) => [m.user, nameOf(m.user_detail) + " (" + m.user_detail.username + ")"])),
      task.assignee,
    );
    const labels = el("fieldset", { class: "label-choices" }, [el("legend", { text: "Labels" })]);
    for (const label of state.labels.values()) {
      const id = "f-label-" + label.id;
      const box = el("input", { type: "checkbox", id: id, name: "labels", value: label.id });
      box.checked = (task.labels || []).includes(label.id);
      labels.append(el("span", { class: "choice" }, [box, " ", el("label", { for: id, text: label.name })]));
    }
    if (!state.labels.size) labels.append(el("span", { class: "meta", text: "The project has no labels yet." }));
    const number = (id, name, value, max) => {
      const input = el("input", { id: id, name: name, type: "number", min: "0", max: max, step: "1", inputmode: "numeric" });
      input.value = value === null || value === undefined ? "" : String(value);
      return input;
    };
    const due = el("input", { id: "f-due", name: "due_date", type: "date" });
    due.value = task.due_date || "";
    const sprints = (open.sprints || []).filter((s) => s.status !== "completed" || s.id === task.sprint);
    const sprint = options(
      el("select", { id: "f-sprint", name: "sprint" }),
      [["", "No sprint"]].concat(sprints.map((s) => [s.id, s.name + " (" + s.status + ")"])),
      task.sprint,
    );
    const parents = [...state.tasks.values()].filter((t) => t.id !== task.id && t.parent !== task.id).sort((a, b) => a.number - b.number);
    const parent = options(
      el("select", { id: "f-parent", name: "parent" }),
      [["", "No parent"]].concat(parents.map((t) => [t.id, t.key + " " + t.title])),
      task.parent,
    );
    const save = el("button", { type: "submit", class: "button primary", text: "Save changes" });
    const node = el("form", { id: "task-form", class: "task-form", "aria-label": "Edit " + task.key }, [
      field("f-title", "Title", title),
      el("div", { class: "field" }, [el("span", { class: "field-name", text: "Description" }), descriptionView(task), editDescription]),
      descriptionField,
      el("div", { class: "grid" }, [
        field("f-priority", "Priority", priority),
        field("f-assignee", "Assignee", assignee),
        field("f-points", "Story points", number("f-points", "story_points", task.story_points, "1000")),
        field("f-estimate", "Estimate (minutes)", number("f-estimate", "estimate_minutes", task.estimate_minutes, "1000000")),
        field("f-due", "Due date", due),
        field("f-sprint", "Sprint", sprint),
        field("f-parent", "Parent task", parent),
      ]),
      labels,
      el("p", { class: "form-actions" }, [save]),
    ]);
    node.addEventListener("input", () => {
      open.dirty = true;
    });
    node.addEventListener("submit", (event) => {
      event.preventDefault();
      submit(node);
    });
    return node;
  }

  function details(task) {
    const row = (name, value) => [el("dt", { text: name }), el("dd", { text: value })];
    const labelNames = (task.labels || []).map((id) => (board().state.labels.get(id) || { name: "?" }).name);
    const sprint = (open.sprints || []).find((s) => s.id === task.sprint);
    return el("div", {}, [
      el("div", { class: "field" }, [el("span", { class: "field-name", text: "Description" }), descriptionView(task)]),
      el(
        "dl",
        { class: "details" },
        [].concat(
          row("Priority", task.priority),
          row("Assignee", task.assignee ? memberName(task.assignee) : "Nobody"),
          row("Labels", labelNames.length ? labelNames.join(", ") : "None"),
          row("Story points", task.story_points === null ? "None" : String(task.story_points)),
          row("Estimate", task.estimate_minutes === null ? "None" : duration(task.estimate_minutes)),
          row("Due date", task.due_date || "None"),
          row("Sprint", sprint ? sprint.name : "None"),
          row("Parent task", task.parent ? taskKey(task.parent) : "None"),
        ),
      ),
    ]);
  }

  // Only what the form changed is sent, with the version it was drawn from.
  function edits(node, task) {
    const data = new FormData(node);
    const value = (name) => String(data.get(name) || "");
    const numberOrNull = (name) => (value(name) === "" ? null : Number(value(name)));
    const wanted = {
      title: value("title").trim(),
      description: value("description"),
      priority: value("priority"),
      assignee: value("assignee") || null,
      story_points: numberOrNull("story_points"),
      estimate_minutes: numberOrNull("estimate_minutes"),
      due_date: value("due_date") || null,
      sprint: value("sprint") || null,
      parent: value("parent") || null,
    };
    const changed = {};
    for (const [name, next] of Object.entries(wanted)) {
      const before = name === "description" ? task.description || "" : task[name] ?? null;
      if (before !== next) changed[name] = next;
    }
    const labels = data.getAll("labels").map(String).sort();
    if (labels.join() !== [...(task.labels || [])].sort().join()) changed.labels = labels;
    return changed;
  }

  async function submit(node) {
    const task = open.task;
    const changed = edits(node, task);
    if (!Object.keys(changed).length) {
      say("Nothing to save.");
      return;
    }
    try {
      const saved = await api("PATCH", "tasks/" + task.id + "/", changed, { "If-Match": '"' + task.version + '"' });
      open.dirty = false;
      show(saved);
      board().show(saved);
      say("Saved " + saved.key + ".");
      refresh(["activity"]);
    } catch (error) {
      if ((error.status === 412 || error.status === 409) && error.data && error.data.id) {
        open.dirty = false;
        show(error.data);
        board().show(error.data);
        say("Someone else changed " + task.key + " while you were editing: this is it now. Your changes were not saved.", "error");
      } else {
        say("Could not save: " + error.message, "error");
      }
    }
  }

  // -- comments ---------------------------------------------------------------------------

  function comment(item) {
    const mine = item.author === board().me;
    const node = el("li", { class: "comment", "data-comment": item.id }, [
      el("p", { class: "comment-head" }, [
        el("strong", { text: nameOf(item.author_detail) }),
        " ",
        el("span", { class: "meta", text: when(item.created_at) + (item.edited ? " · edited" : "") }),
      ]),
      el("div", { class: "comment-body" }, [linkified(item.body)]),
    ]);
    const actions = el("p", { class: "comment-actions" });
    if (mine) {
      const edit = el("button", { type: "button", class: "link", text: "Edit", "aria-label": "Edit your comment" });
      edit.addEventListener("click", () => editComment(node, item));
      actions.append(edit);
    }
    if (mine || isAdmin) {
      const remove = el("button", { type: "button", class: "link danger", text: "Delete", "aria-label": "Delete the comment by " + nameOf(item.author_detail), "data-remove": "" });
      const confirming = () => {
        remove.dataset.confirm = "yes";
        remove.textContent = "Really delete?";
        remove.setAttribute("aria-label", "Really delete the comment by " + nameOf(item.author_detail) + "? Press again to delete it");
      };
      // A pending confirmation outlives the list being drawn again (someone's comment arriving).
      if (open.confirming === item.id) confirming();
      remove.addEventListener("click", async () => {
        if (remove.dataset.confirm !== "yes") {
          open.confirming = item.id;
          confirming();
          say("Press Delete again to delete the comment.");
          return;
        }
        open.confirming = null;
        try {
          await api("DELETE", "comments/" + item.id + "/");
          say("Comment deleted.");
          refresh(["comments", "activity"]);
        } catch (error) {
          say("Could not delete the comment: " + error.message, "error");
        }
      });
      actions.append(remove);
    }
    if (actions.childElementCount) node.append(actions);
    return node;
  }

  function editComment(node, item) {
    const id = "edit-comment-" + item.id;
    const text = el("textarea", { id: id, rows: "3", maxlength: "20000", required: true });
    text.value = item.body;
    const cancel = el("button", { type: "button", class: "button", text: "Cancel" });
    const editor = el("form", { class: "comment-form" }, [
      el("label", { for: id, class: "visually-hidden", text: "Your comment" }),
      text,
      el("p", { class: "form-actions" }, [el("button", { type: "submit", class: "button primary", text: "Save comment" }), " ", cancel]),
    ]);
    cancel.addEventListener("click", () => {
      open.editing = null;
      renderComments();
    });
    editor.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("PATCH", "comments/" + item.id + "/", { body: text.value });
        open.editing = null;
        say("Comment saved.");
        refresh(["comments", "activity"]);
      } catch (error) {
        say("Could not save the comment: " + error.message, "error");
      }
    });
    open.editing = item.id;
    open.confirming = null;
    node.replaceChildren(editor);
    text.focus();
  }

  function renderComments() {
    const list = document.getElementById("drawer-comments");
    if (!list || open.editing) return; // (drawn again when the edit is saved or cancelled)
    const drawn = JSON.stringify(open.comments);
    if (list.dataset.drawn === drawn) return; // unchanged: keep the buttons (and the focus) as they are
    const focused = document.activeElement && list.contains(document.activeElement) ? document.activeElement : null;
    const where = focused && focused.closest("[data-comment]");
    list.replaceChildren(...open.comments.map(comment));
    list.dataset.drawn = drawn;
    if (!open.comments.length) list.append(el("li", { class: "meta", text: "No comments yet." }));
    if (where) {
      const again = list.querySelector('[data-comment="' + where.dataset.comment + '"] ' + (focused.hasAttribute("data-remove") ? "[data-remove]" : "button"));
      if (again) again.focus();
    }
  }

  function commentForm(task) {
    const text = el("textarea", { id: "new-comment", rows: "3", maxlength: "20000", required: true });
    const node = el("form", { class: "comment-form" }, [
      el("label", { for: "new-comment", text: "Add a comment" }),
      text,
      el("p", { class: "form-actions" }, [el("button", { type: "submit", class: "button primary", text: "Comment" })]),
    ]);
    node.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!text.value.trim()) return say("Write something first: the comment is empty.", "error");
      try {
        await api("POST", "tasks/" + task.id + "/comments/", { body: text.value });
        text.value = "";
        say("Comment added.");
        refresh(["comments", "activity"]);
      } catch (error) {
        say("Could not add the comment: " + error.message, "error");
      }
    });
    return node;
  }

  // -- files ------------------------------------------------------------------------------

  function fileItem(item) {
    const mine = item.uploader === board().me;
    const parts = [];
    if (item.thumbnail_url) parts.push(el("img", { class: "thumbnail", src: item.thumbnail_url, alt: "", width: "48", height: "48", loading: "lazy" }));
    parts.push(
      el("span", { class: "file-name" }, [
        el("a", { href: item.download_url, download: item.filename, text: item.filename }),
        " ",
        el("span", { class: "meta", text: fileSize(item.size) + " · " + memberName(item.uploader) + " · " + when(item.created_at) }),
      ]),
    );
    const node = el("li", { class: "file", "data-file": item.id }, parts);
    if ((mine && board().canEdit) || isAdmin) {
      node.append(
        window.TTD.confirmButton("Remove", "Remove the file " + item.filename, async () => {
          try {
            await api("DELETE", "attachments/" + item.id + "/");
            say("Removed " + item.filename + ".");
            refresh(["files", "activity"]);
          } catch (error) {
            say("Could not remove the file: " + error.message, "error");
          }
        }, say),
      );
    }
    return node;
  }

  function renderFiles() {
    const list = document.getElementById("drawer-files");
    if (!list) return;
    const drawn = JSON.stringify(open.files);
    if (list.dataset.drawn === drawn) return;
    list.replaceChildren(...open.files.map(fileItem));
    list.dataset.drawn = drawn;
    if (!open.files.length) list.append(el("li", { class: "meta", text: "No files yet." }));
    // The worker makes an image's thumbnail a moment after the upload: look again shortly.
    if (open.files.some((f) => f.content_type.startsWith("image/") && !f.thumbnail_url) && open.thumbnailLooks < 5) {
      open.thumbnailLooks += 1;
      const id = open.task && open.task.id;
      setTimeout(() => open.task && open.task.id === id && refresh(["files"]), 1500 * open.thumbnailLooks);
    }
  }

  function uploadForm(task) {
    const input = el("input", { id: "new-file", type: "file", name: "file", required: true });
    const node = el("form", { class: "file-form" }, [
      el("label", { for: "new-file", text: "Attach a file" }),
      input,
      el("p", { class: "form-actions" }, [el("button", { type: "submit", class: "button primary", text: "Attach" })]),
    ]);
    node.addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = input.files && input.files[0];
      if (!file) return say("Choose a file first.", "error");
      const form = new FormData();
      form.append("file", file);
      say("Uploading " + file.name + "…");
      try {
        const attached = await api("POST", "tasks/" + task.id + "/attachments/", form);
        input.value = "";
        open.thumbnailLooks = 0;
        say("Attached " + attached.filename + ".");
        refresh(["files", "activity"]);
      } catch (error) {
        say("Could not attach the file: " + error.message, "error");
      }
    });
    return node;
  }

  // -- history and time -------------------------------------------------------------------

  function renderActivity() {
    const list = document.getElementById("drawer-activity");
    if (!list || !open.task) return;
    list.replaceChildren(
      ...open.activity.map((event) =>
        el("li", {}, [el("span", { text: sentence(event, open.task) }), " ", el("time", { class: "meta", datetime: event.created_at, text: when(event.created_at) })]),
      ),
    );
  }

  function renderTime() {
    const box = document.getElementById("drawer-time");
    if (!box || !open.task) return;
    const task = open.task;
    const running = open.timer && open.timer.task === task.id;
    const parts = [el("p", { id: "spent", text: "Spent: " + duration(task.spent_minutes) + (task.estimate_minutes ? " of " + duration(task.estimate_minutes) + " estimated" : "") })];
    if (running) parts.push(el("p", { class: "timer-running", text: "Your timer is running since " + when(open.timer.started_at) + "." }));
    if (board().canEdit) {
      const button = el("button", { type: "button", class: "button" + (running ? " primary" : ""), text: running ? "Stop the timer" : "Start the timer" });
      button.addEventListener("click", async () => {
        try {
          if (running) {
            const entry = await api("POST", "timer/stop/");
            say("Timer stopped: " + duration(entry.minutes) + " logged.");
          } else {
            await api("POST", "tasks/" + task.id + "/timer/start/");
            say("Timer started.");
          }
          refresh(["timer", "task", "activity"]);
        } catch (error) {
          say("Could not change the timer: " + error.message, "error");
        }
      });
      parts.push(button);
    }
    box.replaceChildren(...parts);
  }

  // -- open, show, follow -----------------------------------------------------------------

  // Draws the task; the comments section (a comment being written or edited) is kept when
  // the same task is drawn again.
  function show(task) {
    const same = open.task && open.task.id === task.id;
    const kept = same ? document.getElementById("drawer-comments-section") : null;
    const keptFiles = same ? document.getElementById("drawer-files-section") : null;
    open.task = task;
    heading.replaceChildren(el("span", { class: "key", text: task.key }), " ", document.createTextNode(task.title));
    const status = el("p", { class: "meta", text: "In " + columnName(task.column) + (task.is_done ? " · done" : "") + " · version " + task.version });
    body.replaceChildren(
      status,
      el("section", { "aria-labelledby": "drawer-fields" }, [
        el("h3", { id: "drawer-fields", text: "Details" }),
        board().canEdit ? form(task) : details(task),
      ]),
      el("section", { "aria-labelledby": "drawer-time-heading" }, [el("h3", { id: "drawer-time-heading", text: "Time" }), el("div", { id: "drawer-time" })]),
      keptFiles ||
        el("section", { id: "drawer-files-section", "aria-labelledby": "drawer-files-heading" }, [
          el("h3", { id: "drawer-files-heading", text: "Files" }),
          el("ul", { id: "drawer-files", class: "files", "aria-label": "Files" }),
          board().canEdit ? uploadForm(task) : null,
        ]),
      kept ||
        el("section", { id: "drawer-comments-section", "aria-labelledby": "drawer-comments-heading" }, [
          el("h3", { id: "drawer-comments-heading", text: "Comments" }),
          el("ul", { id: "drawer-comments", class: "comments", "aria-label": "Comments" }),
          commentForm(task), // viewers comment too
        ]),
      el("section", { "aria-labelledby": "drawer-activity-heading" }, [
        el("h3", { id: "drawer-activity-heading", text: "History" }),
        el("ol", { id: "drawer-activity", class: "history", "aria-label": "History" }),
      ]),
    );
    if (!kept) renderComments();
    if (!keptFiles) renderFiles();
    renderActivity();
    renderTime();
  }

  async function refresh(parts) {
    const task = open.task;
    if (!task) return;
    const id = task.id;
    const readers = {
      comments: () => all("tasks/" + id + "/comments/"),
      files: () => all("tasks/" + id + "/attachments/"),
      activity: async () => (await api("GET", "tasks/" + id + "/activity/?page_size=50")).results,
      timer: () => api("GET", "timer/"),
      task: () => api("GET", "tasks/" + id + "/"),
    };
    let fresh;
    try {
      fresh = await Promise.all(parts.map((part) => readers[part]()));
    } catch (error) {
      if (!open.task || open.task.id !== id) return;
      if (error.status === 404) return gone("This task no longer exists, or you no longer have access to it.");
      return say("Could not refresh the task: " + error.message, "error");
    }
    if (!open.task || open.task.id !== id) return; // another task was opened meanwhile
    const got = Object.fromEntries(parts.map((part, i) => [part, fresh[i]]));
    if (got.comments) open.comments = got.comments;
    if (got.files) open.files = got.files;
    if (got.activity) open.activity = got.activity;
    if ("timer" in got) open.timer = got.timer;
    if (got.task) {
      board().show(got.task);
      // Time spent changes without a new version; the form's own version stays as drawn.
      open.task = Object.assign({}, open.task, { spent_minutes: got.task.spent_minutes });
    }
    if (got.comments) renderComments();
    if (got.files) renderFiles();
    if (got.activity) renderActivity();
    if ("timer" in got || got.task) renderTime();
  }

  function gone(text) {
    open.task = null;
    open.dirty = false;
    body.replaceChildren(el("p", { class: "message error", text: text }));
    if (new URLSearchParams(location.search).has("task")) history.replaceState({}, "", location.pathname);
  }

  async function openTask(id) {
    if (!UUID.test(id)) return gone("No such task on this board.");
    const load = (open.load += 1);
    open.opener = id;
    open.loading = id;
    open.task = null;
    open.dirty = false;
    open.editing = null;
    drawer.hidden = false;
    document.body.classList.add("drawer-open");
    heading.textContent = "Loading…";
    body.replaceChildren();
    say("");
    try {
      const projectId = board().projectId;
      const [task, members, sprints, comments, files, activity, timer] = await Promise.all([
        api("GET", "tasks/" + id + "/"),
        open.members ? Promise.resolve(open.members) : all("projects/" + projectId + "/members/"),
        open.sprints ? Promise.resolve(open.sprints) : all("projects/" + projectId + "/sprints/"),
        all("tasks/" + id + "/comments/"),
        all("tasks/" + id + "/attachments/"),
        api("GET", "tasks/" + id + "/activity/?page_size=50"),
        api("GET", "timer/"),
      ]);
      if (load !== open.load) return; // the person opened another task meanwhile
      if (task.project !== projectId) throw Object.assign(new Error("Not found."), { status: 404 });
      Object.assign(open, { members, sprints, comments, files, activity: activity.results, timer, confirming: null, thumbnailLooks: 0 });
      show(task);
      heading.focus();
    } catch (error) {
      if (load !== open.load) return;
      heading.textContent = "Task";
      gone(error.status === 404 ? "No such task on this board." : "Could not open the task: " + error.message);
    } finally {
      if (load === open.load) open.loading = null;
    }
  }

  // Unsaved work (the task form, a comment being written or edited) is not thrown away by
  // one keystroke: the first Escape, Close or other card says so, a second one discards.
  function mayLeave() {
    const draft = document.getElementById("new-comment");
    const unsaved = open.task && (open.dirty || open.editing || (draft && draft.value.trim()));
    if (!unsaved || open.discard) {
      open.discard = false;
      return true;
    }
    open.discard = true;
    say("You have unsaved changes in " + open.task.key + ": save them, or do that again to discard them.", "error");
    return false;
  }

  function closeDrawer(push) {
    drawer.hidden = true;
    document.body.classList.remove("drawer-open");
    open.task = null;
    if (push) history.pushState({}, "", location.pathname);
    const link = [...root.querySelectorAll("a[data-open]")].find((a) => a.dataset.open === open.opener);
    if (link) link.focus();
  }

  function fromLocation() {
    const id = new URLSearchParams(location.search).get("task");
    if (id && id !== open.loading && (!open.task || open.task.id !== id)) openTask(id);
    else if (!id && !drawer.hidden) closeDrawer(false);
  }

  document.addEventListener("ttd:event", (event) => {
    const frame = event.detail;
    const task = open.task;
    if (!task) return;
    const [kind, verb] = frame.verb.split(".");
    if (kind === "task" && frame.target_id === task.id) {
      if (verb === "deleted") return gone(nameOf(memberOf(frame.actor)) + " deleted " + task.key + ".");
      if (!frame.data || frame.data.version <= task.version) return; // our own change, already shown
      if (open.dirty) {
        // The form keeps the version it was drawn from: saving is refused (412) and shows theirs.
        say(nameOf(memberOf(frame.actor)) + " changed " + task.key + " while you were editing: saving will show you their version first.", "error");
      } else {
        show(frame.data);
        say(nameOf(memberOf(frame.actor)) + " changed " + task.key + ": this is it now.");
      }
      refresh(["activity"]);
    } else if (kind === "comment" && frame.data && frame.data.task === task.id) {
      refresh(["comments", "activity"]);
    } else if (kind === "comment" && verb === "deleted" && open.comments.some((c) => c.id === frame.target_id)) {
      refresh(["comments", "activity"]);
    } else if (kind === "attachment" && ((frame.data && frame.data.task === task.id) || (frame.changes.task && frame.changes.task[0] === task.id))) {
      refresh(["files", "activity"]);
    } else if (kind === "time_entry" && (verb === "deleted" || (frame.data && frame.data.task === task.id))) {
      refresh(["activity", "timer", "task"]); // (a deletion does not say its task: read it again)
    } else if (kind === "member" || kind === "sprint") {
      // Read the list again in the background; the drawer keeps the old one until then.
      const path = "projects/" + board().projectId + (kind === "member" ? "/members/" : "/sprints/");
      all(path)
        .then((rows) => {
          if (kind === "member") open.members = rows;
          else open.sprints = rows;
        })
        .catch(() => {});
    }
  });

  function memberOf(userId) {
    const member = (open.members || []).find((m) => m.user === userId);
    return member ? member.user_detail : null;
  }

  // A card's title opens its drawer; the address says which task is open, so it can be shared.
  root.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-open]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    if (open.task && open.task.id === link.dataset.open) return;
    if (!mayLeave()) return;
    history.pushState({}, "", "?task=" + encodeURIComponent(link.dataset.open));
    openTask(link.dataset.open);
  });
  document.getElementById("drawer-close").addEventListener("click", () => mayLeave() && closeDrawer(true));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !drawer.hidden && mayLeave()) closeDrawer(true);
  });
  drawer.addEventListener("input", () => {
    open.discard = false;
  });
  window.addEventListener("popstate", fromLocation);
  // The board was (re)loaded: the first time, open the task the address names; later, show
  // a newer version of the open task unless its form holds unsaved edits.
  document.addEventListener("ttd:board", () => {
    if (!open.task) return fromLocation();
    const known = board().state.tasks.get(open.task.id);
    if (known && known.version > open.task.version && !open.dirty) show(known);
  });
})();
