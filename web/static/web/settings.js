// Project settings (admins): members and their roles, the board's columns (name, order, WIP
// limit, done flag, delete with move-to), and labels. Every write goes to the REST API,
// which checks the role again; its refusals are shown as they come.
"use strict";

(function () {
  const root = document.getElementById("settings-page");
  if (!root) return;
  const { api, all, el, nameOf } = window.TTD;
  const projectId = root.dataset.project;
  const myRole = root.dataset.role;
  const me = root.dataset.user;
  const say = window.TTD.sayer(document.getElementById("page-message"));
  const base = "projects/" + projectId + "/";
  const ROLES = ["viewer", "member", "admin"];

  const { button } = window.TTD;
  const act = (work, done, reload) => window.TTD.act(work, done, reload, say);
  const confirmButton = (text, label, onConfirm) => window.TTD.confirmButton(text, label, onConfirm, say);

  // -- members ----------------------------------------------------------------------------

  async function members() {
    const rows = await all(base + "members/");
    const list = document.getElementById("member-list");
    list.replaceChildren(
      ...rows.map((member) => {
        const who = member.user_detail;
        const name = nameOf(who) + (who.full_name ? " (" + who.username + ")" : "");
        const actions = el("span", { class: "row-actions" });
        const editable = member.role !== "owner" && (myRole === "owner" || member.role !== "admin");
        if (editable) {
          const id = "role-" + member.user;
          const select = el("select", { id: id });
          for (const role of ROLES) {
            if (role === "admin" && myRole !== "owner") continue;
            const option = el("option", { value: role, text: role });
            if (role === member.role) option.selected = true;
            select.append(option);
          }
          select.addEventListener("change", () =>
            act(() => api("PATCH", base + "members/" + member.user + "/", { role: select.value }), nameOf(who) + " is now " + select.value + ".", members),
          );
          actions.append(el("label", { for: id, class: "visually-hidden", text: "Role of " + nameOf(who) }), select);
          actions.append(
            confirmButton("Remove", "Remove " + nameOf(who), () =>
              act(() => api("DELETE", base + "members/" + member.user + "/"), nameOf(who) + " is no longer a member.", members),
            ),
          );
        } else {
          actions.append(el("span", { class: "status-badge", text: member.role }));
        }
        return el("li", { "aria-label": name }, [
          el("span", { class: "row-main" }, [el("strong", { text: name }), member.user === me ? el("span", { class: "meta", text: "you" }) : null]),
          actions,
        ]);
      }),
    );
  }

  document.getElementById("member-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    const who = form.elements.namedItem("who").value.trim();
    if (!who) return say("Give the person's email or username.", "error");
    const role = form.elements.namedItem("role").value;
    // An address is tried as an email first; usernames may hold "@" too.
    const add = async () => {
      if (!who.includes("@")) return api("POST", base + "members/", { username: who, role: role });
      try {
        return await api("POST", base + "members/", { email: who, role: role });
      } catch (error) {
        if (error.status !== 400 || !error.data || !error.data.email) throw error;
        return api("POST", base + "members/", { username: who, role: role });
      }
    };
    act(add, "Added " + who + ".", members).then((ok) => ok && form.reset());
  });

  // -- columns ----------------------------------------------------------------------------

  async function columns() {
    const rows = await all(base + "columns/");
    rows.sort((a, b) => a.position - b.position);
    const list = document.getElementById("column-list");
    list.replaceChildren(
      ...rows.map((column, index) => {
        const nameId = "column-name-" + column.id, wipId = "column-wip-" + column.id, doneId = "column-done-" + column.id;
        const name = el("input", { id: nameId, value: column.name, maxlength: "100", required: true });
        const wip = el("input", { id: wipId, type: "number", min: "1", max: "100000", value: column.wip_limit === null ? "" : String(column.wip_limit) });
        const done = el("input", { id: doneId, type: "checkbox" });
        done.checked = column.is_done;
        const form = el("form", { class: "page-form", "aria-label": "Column " + column.name }, [
          el("div", { class: "field" }, [el("label", { for: nameId, text: "Name" }), name]),
          el("div", { class: "field" }, [el("label", { for: wipId, text: "WIP limit" }), wip]),
          el("span", { class: "filter" }, [done, " ", el("label", { for: doneId, text: "Done" })]),
          el("button", { type: "submit", class: "button primary", text: "Save", "aria-label": "Save column " + column.name }),
        ]);
        form.addEventListener("submit", (event) => {
          event.preventDefault();
          const body = { name: name.value.trim(), wip_limit: wip.value === "" ? null : Number(wip.value), is_done: done.checked };
          act(() => api("PATCH", base + "columns/" + column.id + "/", body), "Saved " + body.name + ".", columns);
        });
        const move = (to) => act(() => api("PATCH", base + "columns/" + column.id + "/", { position: to }), "Moved " + column.name + ".", columns);
        const actions = el("span", { class: "row-actions" }, [
          index > 0 ? button("↑", () => move(index - 1), { "aria-label": "Move " + column.name + " left" }) : null,
          index < rows.length - 1 ? button("↓", () => move(index + 1), { "aria-label": "Move " + column.name + " right" }) : null,
        ]);
        const row = el("li", { "aria-label": column.name }, [form, actions]);
        actions.append(
          confirmButton("Delete", "Delete column " + column.name, async () => {
            try {
              await api("DELETE", base + "columns/" + column.id + "/");
              await columns();
              say("Deleted " + column.name + ".");
            } catch (error) {
              if (error.status !== 409) return say(error.message, "error");
              moveTasksThenDelete(row, column, rows.filter((c) => c.id !== column.id));
            }
          }),
        );
        return row;
      }),
    );
  }

  function moveTasksThenDelete(row, column, others) {
    const id = "move-to-" + column.id;
    const select = el("select", { id: id });
    for (const other of others) select.append(el("option", { value: other.id, text: other.name }));
    const form = el("form", { class: "page-form" }, [
      el("p", { text: column.name + " still has tasks. Move them to another column and delete it:" }),
      el("div", { class: "field" }, [el("label", { for: id, text: "Move its tasks to" }), select]),
      el("button", { type: "submit", class: "button danger", text: "Move tasks and delete " + column.name }),
    ]);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(() => api("DELETE", base + "columns/" + column.id + "/?move_to=" + encodeURIComponent(select.value)), "Deleted " + column.name + ".", columns);
    });
    row.append(form);
    select.focus();
  }

  document.getElementById("column-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    const body = { name: form.elements.namedItem("name").value.trim(), is_done: form.elements.namedItem("is_done").checked };
    const wip = form.elements.namedItem("wip_limit").value;
    if (wip) body.wip_limit = Number(wip);
    if (!body.name) return say("Give the column a name.", "error");
    act(() => api("POST", base + "columns/", body), "Added " + body.name + ".", columns).then((ok) => ok && form.reset());
  });

  // -- labels -----------------------------------------------------------------------------

  async function labels() {
    const rows = await all(base + "labels/");
    const list = document.getElementById("label-list");
    list.replaceChildren(
      ...rows.map((label) => {
        const nameId = "label-name-" + label.id, colorId = "label-color-" + label.id;
        const name = el("input", { id: nameId, value: label.name, maxlength: "50", required: true });
        const color = el("input", { id: colorId, type: "color", value: label.color });
        const swatch = el("span", { class: "swatch", "aria-hidden": "true" });
        swatch.style.setProperty("--label-color", label.color); // CSSOM: the CSP allows no inline styles
        const form = el("form", { class: "page-form", "aria-label": "Label " + label.name }, [
          swatch,
          el("div", { class: "field" }, [el("label", { for: nameId, text: "Name" }), name]),
          el("div", { class: "field" }, [el("label", { for: colorId, text: "Colour" }), color]),
          el("button", { type: "submit", class: "button primary", text: "Save", "aria-label": "Save label " + label.name }),
        ]);
        form.addEventListener("submit", (event) => {
          event.preventDefault();
          act(() => api("PATCH", base + "labels/" + label.id + "/", { name: name.value.trim(), color: color.value }), "Saved " + name.value.trim() + ".", labels);
        });
        return el("li", { "aria-label": label.name }, [
          form,
          el("span", { class: "row-actions" }, [
            confirmButton("Delete", "Delete label " + label.name, () => act(() => api("DELETE", base + "labels/" + label.id + "/"), "Deleted " + label.name + ".", labels)),
          ]),
        ]);
      }),
    );
    if (!rows.length) list.append(el("li", { class: "meta", text: "No labels yet." }));
  }

  document.getElementById("label-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    const body = { name: form.elements.namedItem("name").value.trim(), color: form.elements.namedItem("color").value };
    if (!body.name) return say("Give the label a name.", "error");
    act(() => api("POST", base + "labels/", body), "Added " + body.name + ".", labels).then((ok) => ok && (form.elements.namedItem("name").value = ""));
  });

  Promise.all([members(), columns(), labels()]).catch((error) => say("Could not load the settings: " + error.message, "error"));
})();
