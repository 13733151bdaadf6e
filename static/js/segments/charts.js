/*
 * Charts of the supervisor workspace (Chart.js, vendored). Canvases describe themselves:
 *   data-sparkline="3,5,8"                       a tiny trend line
 *   data-chart="distribution|composition|movement|series|clusters|holdout"
 *   data-source="<id of a json_script element>"  the data; data-key (dotted) picks a part
 *   data-t-*                                     translated series names
 * A row or series that brings its own `color` (the server's one colour per lifecycle stage and
 * value tier, segments/colours.py) is painted in it; the others take the palette in turn.
 */
(function () {
  "use strict";

  var PALETTE = ["#2563eb", "#7c3aed", "#059669", "#d97706", "#dc2626", "#0891b2", "#db2777",
    "#65a30d", "#4f46e5", "#ea580c", "#64748b"];
  // Times are written as the pages write them (SHORT_DATETIME_FORMAT, "2026-12-05 22:31") in
  // the server's TIME_ZONE (the page's <meta name="time-zone">), never the browser's zone.
  var zoneMeta = document.querySelector('meta[name="time-zone"]');
  var timeParts = new Intl.DateTimeFormat("en-US", {
    timeZone: zoneMeta ? zoneMeta.content : undefined,
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23",
  });
  var shortDate = {
    format: function (date) {
      var part = {};
      timeParts.formatToParts(date).forEach(function (p) { part[p.type] = p.value; });
      return part.year + "-" + part.month + "-" + part.day + " " + part.hour + ":" + part.minute;
    },
  };

  function colour(item, i) {
    return item.color || PALETTE[i % PALETTE.length];
  }

  function colours(items) {
    return items.map(colour);
  }

  function source(canvas) {
    var node = document.getElementById(canvas.dataset.source);
    var data = node ? JSON.parse(node.textContent) : {};
    (canvas.dataset.key ? canvas.dataset.key.split(".") : []).forEach(function (part) {
      data = data ? data[part] : undefined;
    });
    return data;
  }

  function sparkline(canvas) {
    var values = canvas.dataset.sparkline.split(",").map(Number);
    var rising = values[values.length - 1] >= values[0];
    new Chart(canvas, {
      type: "line",
      data: { labels: values.map(function (_, i) { return i; }), datasets: [{
        data: values, borderColor: rising ? "#059669" : "#dc2626", borderWidth: 1.5,
        pointRadius: 0, tension: 0.3, fill: false,
      }] },
      options: {
        responsive: false, animation: false, events: [],
        plugins: { legend: { display: false }, tooltip: { enabled: false } },
        scales: { x: { display: false }, y: { display: false } },
      },
    });
  }

  var builders = {
    distribution: function (canvas, rows) {
      return {
        type: "doughnut",
        data: { labels: rows.map(function (r) { return r.label; }), datasets: [{
          data: rows.map(function (r) { return r.count; }), backgroundColor: colours(rows), borderWidth: 1,
        }] },
        options: { maintainAspectRatio: false, plugins: { legend: { position: "right", labels: { boxWidth: 12 } } } },
      };
    },
    composition: function (canvas, rows) {
      return {
        type: "bar",
        data: { labels: rows.map(function (r) { return r.label; }), datasets: [{
          data: rows.map(function (r) { return r.count; }), backgroundColor: colours(rows),
        }] },
        options: {
          indexAxis: "y", maintainAspectRatio: false,
          plugins: { legend: { display: false } },
          scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { ticks: { autoSkip: false } } },
        },
      };
    },
    movement: function (canvas, data) {
      var rows = data.movement;
      return {
        data: {
          labels: rows.map(function (r) { return shortDate.format(new Date(r.taken_at)); }),
          datasets: [
            { type: "line", label: canvas.dataset.tSize, data: rows.map(function (r) { return r.size; }),
              borderColor: "#2563eb", backgroundColor: "#2563eb", yAxisID: "size", tension: 0.25, pointRadius: 2 },
            { type: "bar", label: canvas.dataset.tEntered, data: rows.map(function (r) { return r.entered; }),
              backgroundColor: "#10b981", yAxisID: "moves" },
            { type: "bar", label: canvas.dataset.tExited, data: rows.map(function (r) { return -r.exited; }),
              backgroundColor: "#f87171", yAxisID: "moves" },
          ],
        },
        options: {
          maintainAspectRatio: false,
          scales: {
            size: { position: "left", beginAtZero: true, ticks: { precision: 0 } },
            moves: { position: "right", grid: { drawOnChartArea: false }, ticks: { precision: 0 } },
          },
        },
      };
    },
    series: function (canvas, series) {
      var labels = (series[0] ? series[0].points : []).map(function (p) { return shortDate.format(new Date(p.x)); });
      return {
        type: "line",
        data: { labels: labels, datasets: series.map(function (s, i) {
          var paint = colour(s, i);
          return { label: s.label, data: s.points.map(function (p) { return p.y; }),
            borderColor: paint, backgroundColor: paint,
            tension: 0.25, pointRadius: 1.5 };
        }) },
        options: { maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } } },
      };
    },
    clusters: function (canvas, data) {
      return {
        type: "bar",
        data: { labels: data.labels, datasets: [
          { label: canvas.dataset.tR, data: data.r, backgroundColor: "#2563eb" },
          { label: canvas.dataset.tF, data: data.f, backgroundColor: "#7c3aed" },
          { label: canvas.dataset.tM, data: data.m, backgroundColor: "#059669" },
        ] },
        options: { maintainAspectRatio: false, scales: { y: { beginAtZero: true, max: 5 } } },
      };
    },
    holdout: function (canvas, data) {
      return {
        type: "bar",
        data: { labels: data.labels, datasets: [
          { label: canvas.dataset.tPredicted, data: data.predicted, backgroundColor: "#7c3aed" },
          { label: canvas.dataset.tActual, data: data.actual, backgroundColor: "#059669" },
        ] },
        options: {
          maintainAspectRatio: false,
          scales: {
            x: { title: { display: true, text: canvas.dataset.tAxis } },
            y: { beginAtZero: true },
          },
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
        },
      };
    },
  };

  function draw(scope) {
    if (typeof Chart === "undefined") return;
    Chart.defaults.animation.duration = 250;
    scope.querySelectorAll("canvas[data-sparkline]").forEach(function (canvas) {
      if (!canvas.dataset.drawn) { canvas.dataset.drawn = "1"; sparkline(canvas); }
    });
    scope.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) return;
      var build = builders[canvas.dataset.chart];
      if (!build) return;
      canvas.dataset.drawn = "1";
      var data = source(canvas);
      if (data) new Chart(canvas, build(canvas, data));
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { draw(document); });
  else draw(document);
  document.addEventListener("htmx:load", function (event) { draw(event.target); });
})();
