/*
 * Effectiveness table: draws each rule's uplift interval on one shared scale, with 0 marked,
 * so intervals can be compared down the column.
 */
(function () {
  "use strict";

  var bars = document.querySelectorAll(".care-ci");
  var span = 0.05;
  bars.forEach(function (bar) {
    span = Math.max(span, Math.abs(parseFloat(bar.dataset.low)), Math.abs(parseFloat(bar.dataset.high)));
  });
  function x(value) {
    return ((value + span) / (2 * span)) * 100 + "%";
  }
  bars.forEach(function (bar) {
    var low = parseFloat(bar.dataset.low);
    var high = parseFloat(bar.dataset.high);
    var range = bar.querySelector(".care-ci-bar");
    range.style.left = x(low);
    range.style.width = ((high - low) / (2 * span)) * 100 + "%";
    bar.querySelector(".care-ci-zero").style.left = x(0);
    bar.querySelector(".care-ci-point").style.left = x(parseFloat(bar.dataset.point));
    bar.classList.add(low > 0 ? "is-up" : high < 0 ? "is-down" : "is-flat");
  });
})();
