// The time report: a date range grouped by person, task or day, as a table, and the same
// report as CSV from the API.
"use strict";

(function () {
  const root = document.getElementById("time-page");
  if (!root) return;
  const { api, el, duration } = window.TTD;
  const projectId = root.dataset.project;
  const form = document.getElementById("report-form");
  const csv = document.getElementById("report-csv");
  const box = document.getElementById("report");
  const say = window.TTD.sayer(document.getElementById("page-message"));
  const HEADINGS = { user: "Person", task: "Task", day: "Day" };

  function iso(date) {
    return date.getFullYear() + "-" + String(date.getMonth() + 1).padStart(2, "0") + "-" + String(date.getDate()).padStart(2, "0");
  }

  function query() {
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (value) params.set(name, String(value));
    return params;
  }

  async function show() {
    const params = query();
    const path = "projects/" + projectId + "/time-report/?" + params;
    const csvParams = new URLSearchParams(params);
    csvParams.set("format", "csv");
    try {
      const report = await api("GET", path);
      const group = params.get("group_by") || "user";
      const rows = report.rows.map((row) =>
        el("tr", {}, [el("th", { scope: "row", text: row.label }), el("td", { class: "number", text: duration(row.minutes) }), el("td", { class: "number", text: String(row.minutes) })]),
      );
      box.replaceChildren(
        el("table", { class: "data", id: "report-table" }, [
          el("caption", { class: "visually-hidden", text: "Time by " + HEADINGS[group].toLowerCase() }),
          el("thead", {}, [el("tr", {}, [el("th", { scope: "col", text: HEADINGS[group] }), el("th", { scope: "col", class: "number", text: "Time" }), el("th", { scope: "col", class: "number", text: "Minutes" })])]),
          el("tbody", {}, rows.length ? rows : [el("tr", {}, [el("td", { colspan: "3", class: "meta", text: "No time logged in this range." })])]),
          el("tfoot", {}, [el("tr", {}, [el("th", { scope: "row", text: "Total" }), el("td", { class: "number", text: duration(report.total_minutes) }), el("td", { class: "number", text: String(report.total_minutes) })])]),
        ]),
      );
      // The download is the report on the page: offered only once that range has loaded.
      csv.href = "/api/v1/projects/" + projectId + "/time-report/?" + csvParams;
      csv.hidden = false;
      say("");
    } catch (error) {
      box.replaceChildren(); // no numbers of another range under these dates
      csv.hidden = true;
      say("Could not load the report: " + error.message, "error");
    }
  }

  // The last 30 days unless the address says otherwise.
  const wanted = new URLSearchParams(location.search);
  const today = new Date();
  const start = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 29);
  form.elements.namedItem("from").value = wanted.get("from") || iso(start);
  form.elements.namedItem("to").value = wanted.get("to") || iso(today);
  if (HEADINGS[wanted.get("group_by")]) form.elements.namedItem("group_by").value = wanted.get("group_by");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    history.replaceState({}, "", "?" + query());
    show();
  });
  show();
})();
