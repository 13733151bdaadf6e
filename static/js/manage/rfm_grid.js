// Live preview of the R x FM grid while an admin edits the RFM segment ranges: segments are
// tried from top to bottom and the first whose ranges hold takes the cell, as on the server.
(function () {
  "use strict";

  function ranges(form) {
    return Array.from(form.querySelectorAll("[data-rfm-row]")).map(function (row) {
      var numbers = Array.from(row.querySelectorAll("input.score-input")).map(function (input) {
        return parseInt(input.value, 10);
      });
      var name = row.querySelector("input[type=text]");
      return { key: row.dataset.rfmRow, name: name ? name.value : "", n: numbers };
    });
  }

  function owner(list, r, fm) {
    for (var i = 0; i < list.length; i++) {
      var n = list[i].n;
      if (n[0] <= r && r <= n[1] && n[2] <= fm && fm <= n[3]) {
        return list[i];
      }
    }
    return null;
  }

  function redraw(form) {
    var grid = form.querySelector("[data-rfm-grid]");
    var list = ranges(form);
    grid.querySelectorAll("td[data-r]").forEach(function (cell) {
      var found = owner(list, parseInt(cell.dataset.r, 10), parseInt(cell.dataset.fm, 10));
      cell.className = "seg-" + (found ? found.key : "none");
      cell.textContent = found ? found.name : "?";
      cell.title = found ? found.name : "";
    });
    var caption = form.querySelector(".rfm-grid-wrap figcaption");
    if (caption && caption.dataset.preview) {
      caption.textContent = caption.dataset.preview;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-rfm-form]").forEach(function (form) {
      form.addEventListener("input", function () { redraw(form); });
    });
  });
})();
