// Queue board: "select all" for the task checkboxes and a live count of the selection.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    const all = document.getElementById("select-all");
    const count = document.getElementById("selected-count");
    const boxes = Array.from(document.querySelectorAll(".task-check"));
    function update() {
      const checked = boxes.filter(function (box) { return box.checked; }).length;
      count.textContent = String(checked);
      if (all) {
        all.checked = checked > 0 && checked === boxes.length;
        all.indeterminate = checked > 0 && checked < boxes.length;
      }
    }
    if (all) {
      all.addEventListener("change", function () {
        boxes.forEach(function (box) { box.checked = all.checked; });
        update();
      });
    }
    boxes.forEach(function (box) { box.addEventListener("change", update); });
    update();
  });
})();
