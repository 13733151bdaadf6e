/*
 * Rule builder: edits a rule tree (AND/OR groups of conditions) held as JSON in a hidden input.
 *
 * Mounts on every element with `data-rule-builder`:
 *   data-fields-url    the allow-list of fields and operators (api-segment-fields)
 *   data-input         id of the hidden input holding the JSON tree (read at start, written on edit)
 *   data-preview-url   optional: live count preview (api-segment-preview), debounced
 *   data-segments-url  optional: segments for "member of segment" conditions (api-segments)
 *   data-error-path / data-error-message  optional: a server error to show next to its node
 *   data-t-*           optional: translated UI texts (see TEXT below for the keys)
 *
 * A group is {"op": "and"|"or", "not": false, "children": [...]}; a condition is
 * {"field", "cmp", "value", "days"}. Errors from the server name the node path, e.g.
 * "children[1].children[0]"; the message is shown under that node.
 * The hidden input receives a "change" event after each edit.
 */
(function () {
  "use strict";

  var DEBOUNCE_MS = 350;
  var SAMPLE_SIZE = 5;
  var TEXT = {
    all: "All of these (AND)",
    any: "Any of these (OR)",
    not: "NOT",
    addCondition: "Add condition",
    addGroup: "Add group",
    remove: "Remove",
    emptyGroup: "No conditions yet: add one.",
    matching: "matching customers",
    counting: "Counting…",
    previewFailed: "The preview failed.",
    emptyTree: "Add a condition to count the customers it matches.",
    attributeKey: "attribute key",
    days: "in the last days",
    and: "and",
    valuesHint: "values, comma-separated",
    sample: "For example:",
    loadFailed: "The list of fields could not be loaded.",
    field: "Field",
    operator: "Operator",
    value: "Value",
    from: "From",
    to: "To",
  };

  function csrfToken() {
    var headers = document.body && document.body.getAttribute("hx-headers");
    if (headers) {
      try {
        var parsed = JSON.parse(headers);
        if (parsed["X-CSRFToken"]) return parsed["X-CSRFToken"];
      } catch (e) { /* fall through */ }
    }
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === undefined || value === null || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function isGroup(node) {
    return node && typeof node === "object" && ("op" in node || "children" in node);
  }

  function toNumber(text) {
    var trimmed = String(text).trim();
    if (trimmed === "") return null;
    var number = Number(trimmed);
    return isNaN(number) ? trimmed : number;
  }

  function splitList(text) {
    return String(text).split(/[,，]/).map(function (s) { return s.trim(); }).filter(Boolean);
  }

  function RuleBuilder(root) {
    this.root = root;
    this.input = document.getElementById(root.dataset.input);
    this.fieldsUrl = root.dataset.fieldsUrl;
    this.previewUrl = root.dataset.previewUrl || "";
    this.segmentsUrl = root.dataset.segmentsUrl || "";
    this.text = {};
    var self = this;
    Object.keys(TEXT).forEach(function (key) {
      var dataKey = "t" + key.charAt(0).toUpperCase() + key.slice(1);
      self.text[key] = root.dataset[dataKey] || TEXT[key];
    });
    this.fields = [];
    this.byName = {};
    this.segments = [];
    this.timer = null;
    this.inflight = null;
    this.tree = this.readTree();
  }

  RuleBuilder.prototype.readTree = function () {
    var raw = this.input ? this.input.value : "";
    if (raw) {
      try {
        var tree = JSON.parse(raw);
        if (isGroup(tree)) return tree;
        if (tree && typeof tree === "object") return { op: "and", not: false, children: [tree] };
      } catch (e) { /* start empty */ }
    }
    return { op: "and", not: false, children: [] };
  };

  RuleBuilder.prototype.start = function () {
    var self = this;
    this.root.classList.add("rb");
    this.root.setAttribute("aria-busy", "true");
    var loads = [fetch(this.fieldsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })];
    if (this.segmentsUrl) {
      loads.push(fetch(this.segmentsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : []; })
        .catch(function () { return []; }));
    }
    return Promise.all(loads).then(function (results) {
      self.fields = results[0];
      self.fields.forEach(function (f) { self.byName[f.name] = f; });
      self.segments = (results[1] || []).map(function (s) { return { value: s.slug, label: s.name }; });
      self.root.removeAttribute("aria-busy");
      self.render();
      if (self.root.dataset.errorPath !== undefined && self.root.dataset.errorMessage) {
        self.showError(self.root.dataset.errorPath, self.root.dataset.errorMessage);
      }
      self.schedulePreview(0);
    }).catch(function () {
      self.root.removeAttribute("aria-busy");
      self.root.replaceChildren(el("p", { className: "rb-error", role: "alert", text: self.text.loadFailed }));
    });
  };

  RuleBuilder.prototype.spec = function (name) {
    if (this.byName[name]) return this.byName[name];
    if (typeof name === "string" && name.indexOf("attributes.") === 0) return this.byName["attributes."];
    return null;
  };

  RuleBuilder.prototype.newCondition = function () {
    var spec = this.fields[0];
    var condition = { field: spec.name, cmp: spec.operators[0].value };
    this.resetValue(condition, spec);
    return condition;
  };

  RuleBuilder.prototype.resetValue = function (condition, spec) {
    delete condition.value;
    delete condition.days;
    if (spec.needs_days) condition.days = 30;
    if (spec.type === "choice" && spec.choices.length && (condition.cmp === "eq" || condition.cmp === "ne")) {
      condition.value = spec.choices[0].value;
    }
  };

  RuleBuilder.prototype.changed = function (rerender) {
    if (rerender) this.render();
    if (this.input) {
      this.input.value = JSON.stringify(this.tree);
      this.input.dispatchEvent(new Event("change", { bubbles: true }));
    }
    this.schedulePreview(DEBOUNCE_MS);
  };

  RuleBuilder.prototype.render = function () {
    var tree = el("div", { className: "rb-tree" }, [this.renderGroup(this.tree, "", null, -1)]);
    var children = [tree];
    if (this.previewUrl) {
      this.previewBox = el("div", { className: "rb-preview", "aria-live": "polite" });
      children.push(this.previewBox);
    }
    this.root.replaceChildren.apply(this.root, children);
    if (this.input) this.input.value = JSON.stringify(this.tree);
  };

  RuleBuilder.prototype.renderGroup = function (group, path, parent, index) {
    var self = this;
    group.children = Array.isArray(group.children) ? group.children : [];
    var op = el("select", { className: "rb-op", "aria-label": self.text.all + " / " + self.text.any }, [
      el("option", { value: "and", text: self.text.all, selected: group.op !== "or" }),
      el("option", { value: "or", text: self.text.any, selected: group.op === "or" }),
    ]);
    op.addEventListener("change", function () { group.op = op.value; self.changed(true); });
    var notBox = el("input", { type: "checkbox", className: "rb-not", checked: !!group.not });
    notBox.addEventListener("change", function () {
      if (notBox.checked) group.not = true; else delete group.not;
      self.changed(true);
    });
    var head = el("div", { className: "rb-group-head" }, [
      el("label", { className: "rb-not-label" }, [notBox, " " + self.text.not]),
      op,
    ]);
    if (parent) head.appendChild(self.removeButton(parent, index));
    var list = el("div", { className: "rb-children" });
    var prefix = path ? path + "." : "";
    group.children.forEach(function (child, i) {
      var childPath = prefix + "children[" + i + "]";
      list.appendChild(isGroup(child)
        ? self.renderGroup(child, childPath, group, i)
        : self.renderCondition(child, childPath, group, i));
    });
    if (!group.children.length) list.appendChild(el("p", { className: "rb-empty muted small", text: self.text.emptyGroup }));
    var addCondition = el("button", { type: "button", className: "btn btn-ghost rb-add-condition", text: "+ " + self.text.addCondition });
    addCondition.addEventListener("click", function () { group.children.push(self.newCondition()); self.changed(true); });
    var addGroup = el("button", { type: "button", className: "btn btn-ghost rb-add-group", text: "+ " + self.text.addGroup });
    addGroup.addEventListener("click", function () {
      group.children.push({ op: group.op === "and" ? "or" : "and", children: [self.newCondition()] });
      self.changed(true);
    });
    return el("div", { className: "rb-group" + (group.op === "or" ? " rb-or" : " rb-and"), "data-path": path }, [
      head,
      el("div", { className: "rb-node-error", role: "alert", hidden: true }),
      list,
      el("div", { className: "rb-group-actions" }, [addCondition, addGroup]),
    ]);
  };

  RuleBuilder.prototype.removeButton = function (parent, index) {
    var self = this;
    var button = el("button", { type: "button", className: "rb-remove", title: self.text.remove, "aria-label": self.text.remove, text: "×" });
    button.addEventListener("click", function () { parent.children.splice(index, 1); self.changed(true); });
    return button;
  };

  RuleBuilder.prototype.fieldSelect = function (condition) {
    var self = this;
    var select = el("select", { className: "rb-field", "aria-label": self.text.field });
    var families = {};
    var current = self.spec(condition.field);
    this.fields.forEach(function (spec) {
      if (!families[spec.family]) {
        families[spec.family] = el("optgroup", { label: spec.family_label });
        select.appendChild(families[spec.family]);
      }
      families[spec.family].appendChild(el("option", {
        value: spec.name, text: spec.label, selected: current === spec,
      }));
    });
    select.addEventListener("change", function () {
      var spec = self.byName[select.value];
      condition.field = spec.name === "attributes." ? "attributes." : spec.name;
      condition.cmp = spec.operators[0].value;
      self.resetValue(condition, spec);
      self.changed(true);
    });
    return select;
  };

  RuleBuilder.prototype.renderCondition = function (condition, path, parent, index) {
    var self = this;
    var spec = self.spec(condition.field);
    var row = el("div", { className: "rb-condition", "data-path": path });
    if (!spec) {
      // A field the allow-list no longer has: show it and let the server explain.
      row.appendChild(el("span", { className: "chip mono", text: String(condition.field) }));
      row.appendChild(self.removeButton(parent, index));
      row.appendChild(el("div", { className: "rb-node-error", role: "alert", hidden: true }));
      return row;
    }
    var line = el("div", { className: "rb-line" }, [self.fieldSelect(condition)]);
    if (spec.type === "attribute") {
      var key = el("input", {
        type: "text", className: "rb-key", placeholder: self.text.attributeKey,
        "aria-label": self.text.attributeKey, value: condition.field.slice("attributes.".length),
      });
      key.addEventListener("input", function () { condition.field = "attributes." + key.value.trim(); self.changed(false); });
      line.appendChild(key);
    }
    var cmp = el("select", { className: "rb-cmp", "aria-label": self.text.operator });
    spec.operators.forEach(function (op) {
      cmp.appendChild(el("option", { value: op.value, text: op.label, selected: op.value === condition.cmp }));
    });
    cmp.addEventListener("change", function () {
      var wasList = condition.cmp === "in" || condition.cmp === "not_in";
      condition.cmp = cmp.value;
      var isList = condition.cmp === "in" || condition.cmp === "not_in";
      if (wasList !== isList || condition.cmp === "between" || ["is_set", "is_empty", "is_true", "is_false"].indexOf(condition.cmp) >= 0) {
        var days = condition.days;
        self.resetValue(condition, spec);
        if (days !== undefined && spec.needs_days) condition.days = days;
      }
      self.changed(true);
    });
    line.appendChild(cmp);
    var value = self.valueEditor(condition, spec);
    if (value) line.appendChild(value);
    if (spec.needs_days) {
      var days = el("input", { type: "number", min: "1", step: "1", className: "rb-days", "aria-label": self.text.days, value: condition.days });
      days.addEventListener("input", function () { condition.days = toNumber(days.value); self.changed(false); });
      line.appendChild(el("label", { className: "rb-days-label" }, [self.text.days, " ", days]));
    }
    line.appendChild(self.removeButton(parent, index));
    row.appendChild(line);
    row.appendChild(el("div", { className: "rb-node-error", role: "alert", hidden: true }));
    return row;
  };

  RuleBuilder.prototype.valueEditor = function (condition, spec) {
    var self = this;
    var cmp = condition.cmp;
    if (["is_set", "is_empty", "is_true", "is_false"].indexOf(cmp) >= 0) {
      delete condition.value;
      return null;
    }
    var list = cmp === "in" || cmp === "not_in";
    var options = spec.type === "choice" ? spec.choices : spec.type === "membership" ? self.segments : null;
    if (options && options.length) {
      var select = el("select", { className: "rb-value", multiple: list, "aria-label": self.text.value });
      var chosen = [].concat(condition.value === undefined ? [] : condition.value);
      options.forEach(function (o) {
        select.appendChild(el("option", { value: o.value, text: o.label, selected: chosen.indexOf(o.value) >= 0 }));
      });
      var read = function () {
        condition.value = list
          ? Array.prototype.filter.call(select.options, function (o) { return o.selected; }).map(function (o) { return o.value; })
          : select.value;
        if (list && !condition.value.length) delete condition.value;
      };
      if (!list) read();
      select.addEventListener("change", function () { read(); self.changed(false); });
      return select;
    }
    var numeric = spec.type === "number" || spec.type === "count";
    var type = numeric ? "number" : spec.type === "date" ? "date" : "text";
    var convert = function (text) {
      if (numeric || spec.type === "attribute") return toNumber(text);
      var trimmed = String(text);
      return trimmed.trim() === "" ? null : trimmed;
    };
    if (cmp === "between") {
      var pair = Array.isArray(condition.value) ? condition.value : ["", ""];
      var low = el("input", { type: type, className: "rb-value rb-low", "aria-label": self.text.from, value: pair[0] === null ? "" : pair[0], step: numeric ? "any" : null });
      var high = el("input", { type: type, className: "rb-value rb-high", "aria-label": self.text.to, value: pair[1] === null ? "" : pair[1], step: numeric ? "any" : null });
      var update = function () { condition.value = [convert(low.value), convert(high.value)]; self.changed(false); };
      low.addEventListener("input", update);
      high.addEventListener("input", update);
      return el("span", { className: "rb-between" }, [low, " " + self.text.and + " ", high]);
    }
    if (list) {
      var shown = Array.isArray(condition.value) ? condition.value.join(", ") : "";
      var many = el("input", { type: "text", className: "rb-value", placeholder: self.text.valuesHint, "aria-label": self.text.valuesHint, value: shown });
      many.addEventListener("input", function () {
        var items = splitList(many.value).map(function (item) {
          return numeric || spec.type === "attribute" ? toNumber(item) : item;
        });
        if (items.length) condition.value = items; else delete condition.value;
        self.changed(false);
      });
      return many;
    }
    var single = el("input", {
      type: type, className: "rb-value", "aria-label": self.text.value,
      value: condition.value === undefined || condition.value === null ? "" : condition.value,
      step: numeric ? (spec.integer ? "1" : "any") : null,
      min: numeric && spec.min !== null ? spec.min : null,
      max: numeric && spec.max !== null ? spec.max : null,
    });
    single.addEventListener("input", function () {
      var v = convert(single.value);
      if (v === null) delete condition.value; else condition.value = v;
      self.changed(false);
    });
    return single;
  };

  RuleBuilder.prototype.clearErrors = function () {
    this.root.querySelectorAll(".rb-node-error").forEach(function (box) {
      box.hidden = true;
      box.textContent = "";
    });
    this.root.querySelectorAll(".rb-invalid").forEach(function (node) { node.classList.remove("rb-invalid"); });
  };

  /* Show `message` under the node at `path` ("" = the whole rule). */
  RuleBuilder.prototype.showError = function (path, message) {
    var nodes = this.root.querySelectorAll("[data-path]");
    var target = null;
    for (var i = 0; i < nodes.length; i++) {
      if (nodes[i].getAttribute("data-path") === (path || "")) { target = nodes[i]; break; }
    }
    if (!target) target = this.root.querySelector("[data-path='']");
    if (!target) return;
    target.classList.add("rb-invalid");
    var box = target.querySelector(":scope > .rb-node-error");
    if (box) {
      box.textContent = message;
      box.hidden = false;
    }
  };

  RuleBuilder.prototype.schedulePreview = function (delay) {
    if (!this.previewUrl) return;
    var self = this;
    clearTimeout(this.timer);
    this.timer = setTimeout(function () { self.preview(); }, delay);
  };

  RuleBuilder.prototype.preview = function () {
    var self = this;
    if (this.inflight) this.inflight.abort();
    if (isGroup(this.tree) && !(this.tree.children || []).length) {
      // Nothing to count yet: say so instead of asking the server about an empty tree.
      this.inflight = null;
      this.previewBox.classList.remove("rb-loading");
      this.previewBox.replaceChildren(el("span", { className: "muted", text: self.text.emptyTree }));
      return;
    }
    var controller = new AbortController();
    this.inflight = controller;
    this.previewBox.classList.add("rb-loading");
    this.previewBox.replaceChildren(el("span", { className: "muted", text: self.text.counting }));
    fetch(this.previewUrl, {
      method: "POST",
      credentials: "same-origin",
      signal: controller.signal,
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ rule: this.tree, sample_size: SAMPLE_SIZE }),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { ok: response.ok, body: body };
      });
    }).then(function (result) {
      if (controller !== self.inflight) return;
      self.inflight = null;
      self.previewBox.classList.remove("rb-loading");
      self.clearErrors();
      if (result.ok) {
        self.showCount(result.body);
        return;
      }
      var body = result.body || {};
      var message = body.detail || (body.rule && [].concat(body.rule).join(" ")) || self.text.previewFailed;
      var path = typeof body.path === "string" ? body.path : "";
      // The message starts with the node's path ("children[0]: ..."): keep only the reason.
      var reason = String(message).replace(/^(root|children\[[^:]*\]):\s*/, "");
      self.showError(path, reason);
      self.previewBox.replaceChildren(el("span", { className: "rb-count rb-count-invalid", text: "—" }),
        el("span", { className: "muted", text: " " + self.text.matching }));
    }).catch(function (error) {
      if (error && error.name === "AbortError") return;
      self.previewBox.classList.remove("rb-loading");
      self.previewBox.replaceChildren(el("span", { className: "rb-error", text: self.text.previewFailed }));
    });
  };

  RuleBuilder.prototype.showCount = function (body) {
    var lang = document.documentElement.lang || undefined;
    var count = new Intl.NumberFormat(lang).format(body.count);
    var parts = [
      el("span", { className: "rb-count", "data-count": body.count, text: count }),
      el("span", { className: "muted", text: " " + this.text.matching }),
    ];
    if (body.sample && body.sample.length) {
      parts.push(el("span", { className: "rb-sample muted small", text: " · " + this.text.sample + " " +
        body.sample.map(function (c) { return c.name; }).join(", ") }));
    }
    this.previewBox.replaceChildren.apply(this.previewBox, parts);
    this.root.dispatchEvent(new CustomEvent("rulebuilder:count", { detail: body, bubbles: true }));
  };

  function mountAll(scope) {
    (scope || document).querySelectorAll("[data-rule-builder]").forEach(function (root) {
      if (root.ruleBuilder) return;
      root.ruleBuilder = new RuleBuilder(root);
      root.ruleBuilder.start();
    });
  }

  window.RuleBuilder = { mount: mountAll };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { mountAll(); });
  else mountAll();
  document.addEventListener("htmx:load", function (event) { mountAll(event.target); });
})();
