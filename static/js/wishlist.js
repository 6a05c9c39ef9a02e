// The wishlist heart in place: the form posts with fetch (the CSRF token is in the form), the
// button's aria-pressed and the header's count follow the answer. Without JavaScript the
// form submits and the page comes back with a message.
(function () {
  "use strict";
  if (window.__wishlistBound) return;
  window.__wishlistBound = true;

  function setState(productId, saved, count) {
    document.querySelectorAll('form[data-wishlist-form][action$="/wishlist/' + productId + '/"]').forEach(function (form) {
      var button = form.querySelector("button");
      var action = form.querySelector("[data-wishlist-action]");
      var text = form.querySelector("[data-wishlist-text]");
      if (button) button.setAttribute("aria-pressed", saved ? "true" : "false");
      if (action) action.value = saved ? "remove" : "add";
      if (text) text.textContent = saved ? "Saved" : "Save";
    });
    document.querySelectorAll("[data-wishlist-count]").forEach(function (badge) {
      badge.textContent = String(count);
      badge.setAttribute("data-count", String(count));
      var link = badge.closest("a");
      if (link) link.setAttribute("aria-label", "Wishlist, " + count + " product" + (count === 1 ? "" : "s"));
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-wishlist-form")) return;
    event.preventDefault();
    var button = form.querySelector("button");
    if (button) button.disabled = true;
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) throw new Error((data.error && data.error.message) || "Could not save");
          return data;
        });
      })
      .then(function (data) {
        setState(data.product_id, data.saved, data.count);
      })
      .catch(function () {
        form.submit(); // the page way: the answer comes back as a message
      })
      .finally(function () {
        if (button) button.disabled = false;
      });
  });
})();
