/*
 * Care rule editor: add, remove and reorder steps of the Django formset, show the fields a
 * step's channel uses, show the parameter fields of the chosen trigger, and fall back to the JSON
 * conditions field when the rule builder is not available.
 */
(function () {
  "use strict";

  var form = document.getElementById("rule-form");
  if (!form) return;
  var list = form.querySelector("[data-steps]");
  var prefix = list.dataset.prefix;
  var total = form.querySelector("#id_" + prefix + "-TOTAL_FORMS");
  var template = document.getElementById("step-template");
  var empty = form.querySelector("[data-steps-empty]");

  function visibleSteps() {
    return Array.prototype.filter.call(list.querySelectorAll("[data-step]"), function (step) {
      return !step.hidden;
    });
  }

  function renumber() {
    visibleSteps().forEach(function (step, index) {
      var order = step.querySelector("input[name$='-ORDER']");
      if (order) order.value = String(index + 1);
      var number = step.querySelector("[data-step-number]");
      if (number) number.textContent = String(index + 1);
    });
    if (empty) empty.hidden = visibleSteps().length > 0;
  }

  function channelChanged(step) {
    var select = step.querySelector("select[name$='-channel']");
    if (!select) return;
    step.classList.toggle("is-call", select.value === "call");
  }

  function addStep() {
    var index = parseInt(total.value, 10);
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var step = holder.firstElementChild;
    list.appendChild(step);
    total.value = String(index + 1);
    channelChanged(step);
    renumber();
    var first = step.querySelector("select, input:not([type=hidden])");
    if (first) first.focus();
  }

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) return;
    if (button.hasAttribute("data-step-add")) {
      addStep();
      return;
    }
    var step = button.closest("[data-step]");
    if (!step) return;
    if (button.hasAttribute("data-step-remove")) {
      var remove = step.querySelector("input[name$='-DELETE']");
      if (remove) remove.checked = true;
      step.hidden = true;
      renumber();
    } else if (button.hasAttribute("data-step-up")) {
      var previous = step.previousElementSibling;
      while (previous && previous.hidden) previous = previous.previousElementSibling;
      if (previous) list.insertBefore(step, previous);
      renumber();
      button.focus();
    } else if (button.hasAttribute("data-step-down")) {
      var next = step.nextElementSibling;
      while (next && next.hidden) next = next.nextElementSibling;
      if (next) list.insertBefore(next, step);
      renumber();
      button.focus();
    }
  });

  form.addEventListener("change", function (event) {
    if (event.target.matches("select[name$='-channel']")) {
      channelChanged(event.target.closest("[data-step]"));
    }
    if (event.target.id === "id_trigger_type") showTriggerParams();
  });

  // Steps the server marked deleted (a re-shown form) stay hidden.
  list.querySelectorAll("[data-step]").forEach(function (step) {
    var remove = step.querySelector("input[name$='-DELETE']");
    if (remove && remove.checked) step.hidden = true;
    channelChanged(step);
  });
  renumber();

  // The server renders every trigger's parameter fields; only the chosen trigger's show (the
  // server reads only those). A custom attribute's key box shows when it is chosen.
  function showTriggerParams() {
    var trigger = document.getElementById("id_trigger_type");
    if (!trigger) return;
    form.querySelectorAll("[data-trigger-fields]").forEach(function (fields) {
      fields.hidden = fields.dataset.triggerFields !== trigger.value;
    });
  }
  function showAttributeKey(select) {
    var holder = select.closest("[data-param]");
    var key = holder && holder.querySelector("[data-attribute-key]");
    if (key) key.hidden = select.value !== "attr:";
  }
  form.querySelectorAll("[data-param] select").forEach(showAttributeKey);
  form.addEventListener("change", function (event) {
    if (event.target.matches("[data-param] select")) showAttributeKey(event.target);
  });
  showTriggerParams();

  // Without the rule builder, the JSON field is the editor.
  var json = document.getElementById("conditions-json");
  if (json && !window.RuleBuilder) json.open = true;
})();
