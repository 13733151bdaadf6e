// The campaign form shows the fields that apply: the segment or the rule tree (its builder and
// JSON), and the weekdays, day of the month or dates of the chosen recurrence. Hidden fields
// still post; the server ignores the ones that do not apply.
(function () {
  "use strict";
  var form = document.getElementById("campaign-form");
  if (!form) return;

  function fieldOf(name) {
    var input = form.querySelector("[name='" + name + "']");
    return input ? input.closest(".field") : null;
  }

  function show(name, visible) {
    var field = fieldOf(name);
    // style, not the hidden attribute: the fields' own display rule would override it.
    if (field) field.style.display = visible ? "" : "none";
  }

  function update() {
    var audience = form.querySelector("input[name=audience]:checked");
    var bySegment = !audience || audience.value === "segment";
    show("segment", bySegment);
    var rule = form.querySelector("[data-audience-rule]");
    if (rule) rule.style.display = bySegment ? "none" : "";
    var recurrence = form.querySelector("select[name=recurrence]").value;
    show("weekdays", recurrence === "weekly");
    show("month_day", recurrence === "monthly");
    show("run_dates", recurrence === "dates");
    show("ends_at", recurrence !== "once");
  }

  form.addEventListener("change", update);
  update();
})();
