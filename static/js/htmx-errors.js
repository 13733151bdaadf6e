// Forms and live searches answer 422 (bad input) and 429 (a limit reached) with a fragment
// that explains the refusal: swap it in like a success instead of dropping it.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeSwap", function (event) {
    const status = event.detail.xhr.status;
    if (status === 422 || status === 429) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
