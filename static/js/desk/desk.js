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
  // (`replaced`); the page then stops listening until asked. A dropped stream is reopened by
  // the browser itself, which sends the id of the last event it got (Last-Event-ID) and gets
  // the calls it missed. A stream refused (e.g. 502 from the proxy while the stream server
  // restarts) is opened again here after a growing, jittered delay, from the same last id.
  const replaced = document.getElementById("desk-replaced");
  const RETRY_BASE_MS = 5000;
  const RETRY_MAX_MS = 60000;
  let source = null;
  let failures = 0;
  let retryTimer = null;
  let lastEventId = "";

  function onCall(event) {
    lastEventId = event.lastEventId || lastEventId;
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
    const resume = lastEventId ? "?" + new URLSearchParams({ last_event_id: lastEventId }) : "";
    source = new EventSource(desk.dataset.eventsUrl + resume);
    source.addEventListener("ready", function (event) {
      lastEventId = event.lastEventId || lastEventId;
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
      // Calls rang elsewhere while this page was paused: listen from now on.
      failures = 0;
      lastEventId = "";
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
