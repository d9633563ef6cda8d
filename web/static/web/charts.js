// Two small charts drawn as inline SVG from the API's numbers: a burndown (ideal line
// dashed, remaining solid with dots) and velocity (committed outlined, completed filled),
// each with its numbers in a table beside it, so they read without colour and without sight.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const { el } = window.TTD;

  function svg(tag, attributes, children) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, String(value));
    }
    for (const child of children || []) if (child) node.append(child);
    return node;
  }

  function frame(title, width, height) {
    return svg("svg", { class: "chart", viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": title }, [svg("title", { text: title })]);
  }

  function table(caption, headings, rows) {
    return el("details", { class: "data-table" }, [
      el("summary", { text: "The numbers" }),
      el("table", { class: "data" }, [
        el("caption", { class: "visually-hidden", text: caption }),
        el("thead", {}, [el("tr", {}, headings.map((h, i) => el("th", { scope: "col", class: i ? "number" : null, text: h })))]),
        el("tbody", {}, rows.map((row) => el("tr", {}, row.map((cell, i) => el(i ? "td" : "th", i ? { class: "number", text: cell } : { scope: "row", text: cell }))))),
      ]),
    ]);
  }

  function legend(items) {
    return el("p", { class: "legend" }, items.map((text) => el("span", { text: text })));
  }

  // {dates, ideal, remaining (null after today), total_points}
  function burndown(data, name) {
    const width = 520, height = 260, left = 40, right = 12, top = 12, bottom = 36;
    const n = data.dates.length;
    const top_points = Math.max(1, data.total_points, ...data.remaining.filter((v) => v !== null));
    const x = (i) => left + (n > 1 ? (i * (width - left - right)) / (n - 1) : 0);
    const y = (v) => top + (height - top - bottom) * (1 - v / top_points);
    const chart = frame("Burndown of " + name + ": points remaining per day against the ideal line", width, height);
    chart.append(svg("line", { class: "axis", x1: left, y1: y(0), x2: width - right, y2: y(0) }));
    chart.append(svg("line", { class: "axis", x1: left, y1: top, x2: left, y2: y(0) }));
    for (const v of [0, Math.round(top_points / 2), top_points]) {
      chart.append(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", text: String(v) }));
    }
    const step = Math.max(1, Math.ceil(n / 6));
    data.dates.forEach((date, i) => {
      const last = i === n - 1;
      if (last || (i % step === 0 && n - 1 - i >= step / 2)) chart.append(svg("text", { x: x(i), y: height - 14, "text-anchor": "middle", text: date.slice(5) }));
    });
    chart.append(svg("polyline", { class: "ideal", points: data.ideal.map((v, i) => x(i) + "," + y(v)).join(" ") }));
    const known = data.remaining.map((v, i) => [i, v]).filter(([, v]) => v !== null);
    if (known.length) {
      chart.append(svg("polyline", { class: "remaining", points: known.map(([i, v]) => x(i) + "," + y(v)).join(" ") }));
      for (const [i, v] of known) chart.append(svg("circle", { class: "dot", cx: x(i), cy: y(v), r: 3.5 }, [svg("title", { text: data.dates[i] + ": " + v + " points remaining" })]));
    }
    return [
      chart,
      legend(["– – ideal", "—●— remaining points", "total: " + data.total_points + " points"]),
      table(
        "Burndown of " + name,
        ["Day", "Ideal", "Remaining"],
        data.dates.map((date, i) => [date, String(Math.round(data.ideal[i] * 10) / 10), data.remaining[i] === null ? "—" : String(data.remaining[i])]),
      ),
    ];
  }

  // {sprints: [{sprint, name, committed_points, completed_points}], average}
  function velocity(data) {
    const width = 520, height = 260, left = 40, right = 12, top = 12, bottom = 48;
    const sprints = data.sprints;
    const most = Math.max(1, ...sprints.map((s) => Math.max(s.committed_points || 0, s.completed_points || 0)));
    const slot = (width - left - right) / Math.max(1, sprints.length);
    const y = (v) => top + (height - top - bottom) * (1 - v / most);
    const chart = frame("Velocity: points committed and completed per sprint", width, height);
    chart.append(svg("line", { class: "axis", x1: left, y1: y(0), x2: width - right, y2: y(0) }));
    for (const v of [0, Math.round(most / 2), most]) chart.append(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", text: String(v) }));
    sprints.forEach((s, i) => {
      const bar = Math.min(28, slot / 3);
      const x0 = left + i * slot + slot / 2 - bar;
      const committed = s.committed_points || 0, completed = s.completed_points || 0;
      chart.append(svg("rect", { class: "committed", x: x0, y: y(committed), width: bar, height: y(0) - y(committed) }, [svg("title", { text: s.name + ": " + committed + " committed" })]));
      chart.append(svg("rect", { class: "completed", x: x0 + bar, y: y(completed), width: bar, height: y(0) - y(completed) }, [svg("title", { text: s.name + ": " + completed + " completed" })]));
      chart.append(svg("text", { x: left + i * slot + slot / 2, y: height - 28, "text-anchor": "middle", text: s.name.length > 14 ? s.name.slice(0, 13) + "…" : s.name }));
    });
    if (data.average !== null) {
      chart.append(svg("line", { class: "ideal", x1: left, y1: y(data.average), x2: width - right, y2: y(data.average) }));
    }
    return [
      chart,
      legend(["□ committed", "■ completed", data.average === null ? "no completed sprint yet" : "– – average " + data.average + " points"]),
      table("Velocity", ["Sprint", "Committed", "Completed"], sprints.map((s) => [s.name, String(s.committed_points ?? "—"), String(s.completed_points ?? "—")])),
    ];
  }

  window.TTD.charts = { burndown, velocity };
})();
