// Live countdowns to deadlines: every [data-deadline] element shows the time left, or how long
// it is overdue. Labels come from the nearest [data-label-left]/[data-label-overdue] container.
(function () {
  "use strict";

  function span(ms) {
    const minutes = Math.floor(Math.abs(ms) / 60000);
    const days = Math.floor(minutes / 1440);
    const hours = Math.floor((minutes % 1440) / 60);
    const mins = minutes % 60;
    if (days) { return days + "d " + hours + "h"; }
    if (hours) { return hours + "h " + String(mins).padStart(2, "0") + "m"; }
    return mins + "m";
  }

  function tick() {
    const now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (element) {
      const left = Date.parse(element.dataset.deadline) - now;
      const labels = element.closest("[data-label-left]") || document.body;
      const template = left < 0 ? labels.dataset.labelOverdue : labels.dataset.labelLeft;
      element.textContent = (template || "%(time)s").replace("%(time)s", span(left));
      element.classList.toggle("overdue", left < 0);
      element.classList.toggle("soon", left >= 0 && left < 30 * 60000);
    });
  }

  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);
  setInterval(tick, 1000);
})();
