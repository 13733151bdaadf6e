// Agent desk: listen to this agent's call events (server-sent events) and pop the caller's
// card. The server renders the card; this script only fetches it into #desk-card, by the call's
// reference (the stream never carries the caller's number in full).
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
    const url = desk.dataset.cardUrl + "?" + new URLSearchParams({ call: call.call_ref, call_id: call.call_id });
    window.htmx.ajax("GET", url, { target: "#desk-card", swap: "innerHTML" });
  }

  // The server closes this page's stream when the same agent opens the desk elsewhere
  // (`replaced`); the page then stops listening until asked. A stream refused or cut (e.g. 503
  // while the server is busy) is opened again after a growing, jittered delay.
  const replaced = document.getElementById("desk-replaced");
  const RETRY_BASE_MS = 5000;
  const RETRY_MAX_MS = 60000;
  let source = null;
  let failures = 0;
  let retryTimer = null;

  function onCall(event) {
    const call = JSON.parse(event.data);
    remember(call);
    const shown = document.querySelector("#desk-card .desk-card");
    // A new ringing call always pops; answering shows the card if another one is shown.
    if (call.event === "ringing" || (call.event === "answered" && (!shown || shown.dataset.callId !== call.call_id))) {
      popCard(call);
    }
  }

  function retryLater() {
    const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * Math.pow(2, failures));
    failures += 1;
    retryTimer = window.setTimeout(connect, delay / 2 + Math.random() * delay / 2);
  }

  function connect() {
    retryTimer = null;
    replaced.hidden = true;
    setState("connecting");
    source = new EventSource(desk.dataset.eventsUrl);
    source.addEventListener("ready", function () {
      failures = 0;
      setState("live");
    });
    source.addEventListener("call", onCall);
    source.addEventListener("replaced", function () {
      source.close();
      setState("replaced");
      replaced.hidden = false;
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        // The browser gives up on an error status: try again ourselves, later.
        setState("reconnecting");
        retryLater();
      } else if (pill.dataset.state !== "replaced") {
        setState("reconnecting");
      }
    });
  }

  document.getElementById("desk-reconnect").addEventListener("click", function () {
    if (retryTimer === null) {
      failures = 0;
      connect();
    }
  });
  window.addEventListener("beforeunload", function () {
    if (source) {
      source.close();
    }
  });
  connect();
})();
