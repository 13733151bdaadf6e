// Agent desk: listen to this agent's call events (server-sent events) and pop the caller's
// card. The server renders the card; this script only fetches it into #desk-card.
(function () {
  "use strict";

  // Forms answer 422 with their errors: show them like a success.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  const desk = document.getElementById("desk");
  if (!desk || !window.EventSource) {
    return;
  }
  const pill = document.getElementById("desk-live");
  const log = document.getElementById("call-log");
  const items = document.getElementById("call-log-items");
  const MAX_LOG = 6;

  function setState(state) {
    pill.dataset.state = state;
    pill.querySelector(".live-text").textContent = pill.dataset["label" + state[0].toUpperCase() + state.slice(1)];
  }

  function remember(call) {
    const label = items.dataset["label" + call.event[0].toUpperCase() + call.event.slice(1)] || call.event;
    let item = items.querySelector('[data-call-id="' + CSS.escape(call.call_id) + '"]');
    if (!item) {
      item = document.createElement("li");
      item.dataset.callId = call.call_id;
      items.prepend(item);
      while (items.children.length > MAX_LOG) {
        items.lastElementChild.remove();
      }
    }
    item.dataset.event = call.event;
    item.textContent = label + " · " + (call.name || items.dataset.labelUnknown);
    log.hidden = false;
  }

  function popCard(call) {
    const url = desk.dataset.cardUrl + "?" + new URLSearchParams({ phone: call.phone, call_id: call.call_id });
    window.htmx.ajax("GET", url, { target: "#desk-card", swap: "innerHTML" });
  }

  const source = new EventSource(desk.dataset.eventsUrl);
  source.addEventListener("ready", function () { setState("live"); });
  source.addEventListener("error", function () { setState("reconnecting"); });
  source.addEventListener("call", function (event) {
    const call = JSON.parse(event.data);
    remember(call);
    const shown = document.querySelector("#desk-card .desk-card");
    // A new ringing call always pops; answering shows the card if another one is shown.
    if (call.event === "ringing" || (call.event === "answered" && (!shown || shown.dataset.callId !== call.call_id))) {
      popCard(call);
    }
  });
  window.addEventListener("beforeunload", function () { source.close(); });
})();
