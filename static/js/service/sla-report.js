/*
 * SLA report chart: first-response and resolution compliance per week (lines, %) and the
 * breaches (bars), from the page's json_script data; Chart.js is vendored and loaded first.
 */
(function () {
  "use strict";

  function draw() {
    var canvas = document.querySelector("canvas[data-sla-chart]");
    if (!canvas || !window.Chart) return;
    var node = document.getElementById(canvas.dataset.source);
    if (!node) return;
    var data = JSON.parse(node.textContent);
    var t = canvas.dataset;
    new window.Chart(canvas, {
      data: {
        labels: data.labels,
        datasets: [
          { type: "line", label: t.tFirst, data: data.first, borderColor: "#2563eb", backgroundColor: "#2563eb", spanGaps: true, yAxisID: "rate" },
          { type: "line", label: t.tResolution, data: data.resolution, borderColor: "#059669", backgroundColor: "#059669", spanGaps: true, yAxisID: "rate" },
          { type: "bar", label: t.tBreached, data: data.breached, backgroundColor: "#fca5a5", yAxisID: "count" },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { position: "bottom" } },
        scales: {
          rate: { position: "left", min: 0, max: 100, ticks: { callback: function (v) { return v + "%"; } } },
          count: { position: "right", beginAtZero: true, ticks: { precision: 0 }, grid: { drawOnChartArea: false } },
        },
      },
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
