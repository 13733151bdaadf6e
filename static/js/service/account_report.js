/*
 * The order trend of a business account's monthly report (Chart.js, vendored): amount per
 * month as bars, order count as a line on a second axis. The canvas names its data
 * (data-source, a json_script element) and its translated series names (data-label-*).
 */
(function () {
  "use strict";

  function draw(canvas) {
    var node = document.getElementById(canvas.dataset.source);
    if (!node || typeof Chart === "undefined") { return; }
    var data = JSON.parse(node.textContent);
    new Chart(canvas, {
      data: {
        labels: data.labels,
        datasets: [
          { type: "bar", label: canvas.dataset.labelAmount, data: data.amounts,
            backgroundColor: "#2563eb", yAxisID: "amount" },
          { type: "line", label: canvas.dataset.labelCount, data: data.counts,
            borderColor: "#d97706", backgroundColor: "#d97706", yAxisID: "count" },
        ],
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales: {
          amount: { type: "linear", position: "left", beginAtZero: true },
          count: { type: "linear", position: "right", beginAtZero: true,
                   grid: { drawOnChartArea: false }, ticks: { precision: 0 } },
        },
      },
    });
    canvas.dataset.drawn = "true";
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-report-chart]").forEach(draw);
  });
})();
