// The sprints page: the list with start / complete for admins, a form for a new sprint,
// the chosen sprint's burndown and the project's velocity.
"use strict";

(function () {
  const root = document.getElementById("sprints-page");
  if (!root) return;
  const { api, all, el } = window.TTD;
  const projectId = root.dataset.project;
  const isAdmin = root.dataset.isAdmin === "true";
  const say = window.TTD.sayer(document.getElementById("page-message"));
  const list = document.getElementById("sprint-list");
  const state = { sprints: [], chosen: null };

  function dates(sprint) {
    if (!sprint.start_date && !sprint.end_date) return "no dates";
    return (sprint.start_date || "?") + " → " + (sprint.end_date || "?");
  }

  function points(sprint) {
    if (sprint.status === "planned") return null;
    const committed = sprint.committed_points ?? 0;
    if (sprint.status === "active") return el("span", { class: "meta", text: committed + " points committed" });
    return el("span", { class: "meta", text: (sprint.completed_points ?? 0) + " of " + committed + " points done" });
  }

  const { button } = window.TTD;
  const act = (work, done) => window.TTD.act(work, done, load, say);

  function completeForm(sprint, row) {
    const id = "move-open-" + sprint.id;
    const earlier = row.querySelector("form");
    if (earlier) earlier.remove(); // one form, however often the button is pressed
    const select = el("select", { id: id });
    select.append(el("option", { value: "", text: "Backlog (no sprint)" }));
    for (const other of state.sprints.filter((s) => s.status === "planned")) select.append(el("option", { value: other.id, text: other.name }));
    const form = el("form", { class: "page-form" }, [
      el("div", { class: "field" }, [el("label", { for: id, text: "Move open tasks to" }), select]),
      el("button", { type: "submit", class: "button primary", text: "Complete " + sprint.name }),
    ]);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(() => api("POST", "sprints/" + sprint.id + "/complete/", { move_open_tasks_to: select.value || null }), "Completed " + sprint.name + ".");
    });
    row.append(form);
    select.focus();
  }

  function row(sprint) {
    const actions = el("span", { class: "row-actions" });
    const node = el("li", { "data-sprint": sprint.id, "aria-label": sprint.name }, [
      el("span", { class: "row-main" }, [
        el("strong", { text: sprint.name }),
        el("span", { class: "status-badge " + sprint.status, text: sprint.status }),
        el("span", { class: "meta", text: dates(sprint) }),
        points(sprint),
        sprint.goal ? el("span", { class: "meta", text: "Goal: " + sprint.goal }) : null,
      ]),
      actions,
    ]);
    if (sprint.start_date && sprint.end_date) {
      actions.append(button("Burndown", () => chart(sprint), { "aria-label": "Show the burndown of " + sprint.name, "aria-pressed": String(state.chosen === sprint.id) }));
    }
    if (isAdmin && sprint.status === "planned") {
      actions.append(button("Start", () => act(() => api("POST", "sprints/" + sprint.id + "/start/"), "Started " + sprint.name + "."), { "aria-label": "Start " + sprint.name }));
    }
    if (isAdmin && sprint.status === "active") {
      actions.append(button("Complete…", () => completeForm(sprint, node), { "aria-label": "Complete " + sprint.name }));
    }
    return node;
  }

  async function chart(sprint) {
    state.chosen = sprint.id;
    const box = document.getElementById("burndown");
    try {
      const data = await api("GET", "sprints/" + sprint.id + "/burndown/");
      box.replaceChildren(el("p", { class: "meta", text: sprint.name + " · " + dates(sprint) }), ...window.TTD.charts.burndown(data, sprint.name));
    } catch (error) {
      box.replaceChildren(el("p", { class: "message error", text: "No burndown for " + sprint.name + ": " + error.message }));
    }
    for (const node of list.querySelectorAll("button[aria-pressed]")) node.setAttribute("aria-pressed", String(node.closest("li").dataset.sprint === sprint.id));
  }

  async function load() {
    try {
      const [sprints, velocity] = await Promise.all([all("projects/" + projectId + "/sprints/"), api("GET", "projects/" + projectId + "/velocity/")]);
      const order = { active: 0, planned: 1, completed: 2 };
      state.sprints = sprints.sort((a, b) => order[a.status] - order[b.status] || String(b.start_date).localeCompare(String(a.start_date)));
      list.replaceChildren(...state.sprints.map(row));
      if (!state.sprints.length) list.append(el("li", { class: "meta", text: "No sprints yet." + (isAdmin ? " Create the first one below." : "") }));
      const box = document.getElementById("velocity");
      if (velocity.sprints.length) box.replaceChildren(...window.TTD.charts.velocity(velocity));
      else box.replaceChildren(el("p", { class: "meta", text: "Velocity shows once a sprint is completed." }));
      const shown = state.sprints.find((s) => s.id === state.chosen) || state.sprints.find((s) => s.status !== "planned" && s.start_date && s.end_date);
      if (shown) await chart(shown);
    } catch (error) {
      say("Could not load the sprints: " + error.message, "error");
    }
  }

  const form = document.getElementById("sprint-form");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const body = { name: String(data.get("name") || "").trim(), goal: String(data.get("goal") || "") };
      for (const name of ["start_date", "end_date"]) if (data.get(name)) body[name] = data.get(name);
      if (!body.name) return say("Give the sprint a name.", "error");
      await act(async () => {
        await api("POST", "projects/" + projectId + "/sprints/", body);
        form.reset();
      }, "Created " + body.name + ".");
    });
  }

  load();
})();
