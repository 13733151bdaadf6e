// Live countdowns to deadlines: every [data-deadline] element shows the time left, or how long
// it is overdue. Labels and the span's units come from the nearest [data-label-left] container
// (outreach/partials/countdown_labels.html).
(function () {
  "use strict";

  // "{h}" in a template -> values.h
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (match, key) { return values[key]; });
  }

  function span(ms, labels) {
    const minutes = Math.floor(Math.abs(ms) / 60000);
    const days = Math.floor(minutes / 1440);
    const hours = Math.floor((minutes % 1440) / 60);
    const mins = minutes % 60;
    const words = labels.dataset;
    if (days) { return fill(words.spanDaysHours || "{d}d {h}h", { d: days, h: hours }); }
    if (hours) {
      const padded = String(mins).padStart(2, "0");
      return fill(words.spanHoursMinutes || "{h}h {m}m", { h: hours, m: padded });
    }
    return fill(words.spanMinutes || "{m}m", { m: mins });
  }

  function tick() {
    const now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (element) {
      const left = Date.parse(element.dataset.deadline) - now;
      const labels = element.closest("[data-label-left]") || document.body;
      const template = left < 0 ? labels.dataset.labelOverdue : labels.dataset.labelLeft;
      element.textContent = (template || "%(time)s").replace("%(time)s", span(left, labels));
      element.classList.toggle("overdue", left < 0);
      element.classList.toggle("soon", left >= 0 && left < 30 * 60000);
    });
  }

  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);
  setInterval(tick, 1000);
})();
