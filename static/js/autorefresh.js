// Reloads a live progress page (an element with data-autorefresh="<seconds>") while the
// tab is visible: the staff's reindex and import pages. No inline script (CSP).
(function () {
  var element = document.querySelector("[data-autorefresh]");
  if (!element) return;
  var seconds = parseInt(element.getAttribute("data-autorefresh"), 10) || 3;
  setInterval(function () {
    if (document.visibilityState === "visible") window.location.reload();
  }, seconds * 1000);
})();
