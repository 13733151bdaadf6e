/*
 * Care KPI charts: draws the trends of every [data-care-kpis] fragment from its JSON series
 * (json_script), loading the vendored Chart.js first when the page has not. The fragment
 * carries this script, so it works alone and when the dashboard swaps it in with htmx.
 */
(function () {
  "use strict";

  var COLORS = { created: "#94a3b8", sent: "#3b82f6", reached: "#10b981", nps: "#6366f1", complaints: "#f59e0b" };

  function chart(canvas, config) {
    config.options = Object.assign({
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { display: config.data.datasets.length > 1, position: "bottom" } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
    }, config.options || {});
    return new window.Chart(canvas, config);
  }

  function draw(root) {
    if (root.dataset.drawn) return;
    var data = root.querySelector("script[type='application/json']");
    if (!data) return;
    root.dataset.drawn = "1";
    var series = JSON.parse(data.textContent);
    var t = root.dataset;
    var tasks = root.querySelector("canvas[data-chart=tasks]");
    if (tasks) {
      chart(tasks, {
        type: "bar",
        data: {
          labels: series.labels,
          datasets: [
            { label: t.tCreated, data: series.created, backgroundColor: COLORS.created },
            { label: t.tSent, data: series.sent, backgroundColor: COLORS.sent },
            { label: t.tReached, data: series.reached, backgroundColor: COLORS.reached },
          ],
        },
      });
    }
    var nps = root.querySelector("canvas[data-chart=nps]");
    if (nps) {
      chart(nps, {
        type: "line",
        data: {
          labels: series.labels,
          datasets: [{ label: t.tNps, data: series.nps, borderColor: COLORS.nps, backgroundColor: COLORS.nps, spanGaps: true, tension: 0.25 }],
        },
        options: { scales: { y: { min: -100, max: 100 } } },
      });
    }
    var complaints = root.querySelector("canvas[data-chart=complaints]");
    if (complaints) {
      chart(complaints, {
        type: "bar",
        data: {
          labels: series.labels,
          datasets: [{ label: t.tComplaints, data: series.complaints, backgroundColor: COLORS.complaints }],
        },
      });
    }
  }

  function drawAll() {
    document.querySelectorAll("[data-care-kpis]").forEach(draw);
  }

  function withChart(callback) {
    if (window.Chart) {
      callback();
      return;
    }
    var loading = document.querySelector("script[data-care-chartjs]");
    if (!loading) {
      var root = document.querySelector("[data-care-kpis]");
      if (!root) return;
      loading = document.createElement("script");
      loading.src = root.dataset.chartjs;
      loading.setAttribute("data-care-chartjs", "");
      document.head.appendChild(loading);
    }
    loading.addEventListener("load", callback);
  }

  if (!window.careKpisListening) {
    window.careKpisListening = true;
    document.addEventListener("htmx:load", function () { withChart(drawAll); });
  }
  withChart(drawAll);
})();
