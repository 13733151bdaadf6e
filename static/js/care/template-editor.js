/*
 * Template editor: live SMS length and parts per language, placeholders inserted at the cursor
 * of the text last edited, and the customer picker of the preview.
 * SMS parts: GSM-7 texts take 160 characters in one part, 153 per part when split; any other
 * text is UCS-2 (70 and 67). Links count as the short links they are sent as
 * (data-short-link, care.services.templates.links). The server counts the rendered preview
 * the same way.
 */
(function () {
  "use strict";

  var form = document.getElementById("template-form");
  if (!form) return;
  var GSM = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡" +
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM_EXT = "^{}\\[~]|€\f";
  var lastText = null;
  // The link pattern of care.services.templates.links (ends at a space, quote, `<` or any
  // non-ASCII character), with the punctuation that ends a sentence left out.
  var LINK = /https?:\/\/[A-Za-z0-9\-._~:\/?#\[\]@!$&()*+,;=%]+/gi;
  var TRAILING = /[.,;:!?)\]']+$/;
  var shortLink = form.dataset.shortLink || "";

  function asSent(text) {
    if (!shortLink) return text;
    return text.replace(LINK, function (whole) {
      var url = whole.replace(TRAILING, "");
      if (url.length > 2000 || url.indexOf(shortLink.slice(0, -11)) === 0) return whole;
      return shortLink + whole.slice(url.length);
    });
  }

  function smsCount(text) {
    var gsm = true;
    var units = 0;
    for (var i = 0; i < text.length; i++) {
      var ch = text.charAt(i);
      if (GSM.indexOf(ch) >= 0) units += 1;
      else if (GSM_EXT.indexOf(ch) >= 0) units += 2;
      else { gsm = false; break; }
    }
    if (!gsm) units = text.length; // UTF-16 code units, as UCS-2 counts them
    var single = gsm ? 160 : 70;
    var multi = gsm ? 153 : 67;
    var parts = units === 0 ? 0 : units <= single ? 1 : Math.ceil(units / multi);
    return { length: units, parts: parts, encoding: gsm ? "GSM-7" : "UCS-2" };
  }

  function channel() {
    var select = form.querySelector("[name=channel]");
    return select ? select.value : "";
  }

  function update(textarea) {
    var card = textarea.closest("[data-variant]");
    if (!card) return;
    var out = card.querySelector("[data-sms-count]");
    if (!out) return;
    if (channel() !== form.dataset.sms) {
      out.textContent = textarea.value.length + " " + form.dataset.tChars;
      return;
    }
    var count = smsCount(asSent(textarea.value));
    out.textContent = count.length + " " + form.dataset.tChars + " (" + count.encoding + ") · " +
      form.dataset.tParts + " " + count.parts;
  }

  function showSubjects() {
    form.classList.toggle("is-email", channel() === form.dataset.email);
  }

  form.querySelectorAll("textarea.care-body").forEach(function (textarea) {
    update(textarea);
    textarea.addEventListener("input", function () { update(textarea); });
    textarea.addEventListener("focus", function () { lastText = textarea; });
  });
  form.addEventListener("change", function (event) {
    if (event.target.name === "channel") {
      showSubjects();
      form.querySelectorAll("textarea.care-body").forEach(update);
    }
  });
  showSubjects();

  document.addEventListener("click", function (event) {
    var placeholder = event.target.closest("[data-placeholder]");
    if (placeholder) {
      var target = lastText || form.querySelector("textarea.care-body:not([disabled])");
      if (!target || target.disabled) return;
      var token = "{{ " + placeholder.dataset.placeholder + " }}";
      var start = target.selectionStart || 0;
      var end = target.selectionEnd || 0;
      target.value = target.value.slice(0, start) + token + target.value.slice(end);
      target.focus();
      target.selectionStart = target.selectionEnd = start + token.length;
      update(target);
      return;
    }
    var pick = event.target.closest("[data-customer-id]");
    if (pick) {
      document.getElementById("preview-customer").value = pick.dataset.customerId;
      var chosen = document.getElementById("picker-chosen");
      chosen.textContent = "✓ " + pick.dataset.customerName;
      chosen.classList.add("strong");
      document.querySelectorAll(".care-pick.is-chosen").forEach(function (node) {
        node.classList.remove("is-chosen");
      });
      pick.classList.add("is-chosen");
    }
  });
})();
