// The storefront's few behaviours, without a build step (CSP: no inline scripts).
// * Filter and sort forms marked data-autosubmit submit when a choice changes; on a phone,
//   inside the open filters drawer, choices wait for "Show results" instead.
// * The "Filters" button opens the filters as a drawer on narrow screens (without JavaScript
//   the link's #filters target opens it through CSS :target).
// * The header's menu (a <details>) closes on Escape or a click elsewhere.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var drawer = document.getElementById("filters");
  var toggle = document.querySelector("[data-filters-toggle]");
  var narrow = window.matchMedia("(max-width: 860px)");

  function drawerOpen() {
    return !!drawer && drawer.classList.contains("is-open");
  }

  function setDrawer(open) {
    if (!drawer) return;
    drawer.classList.toggle("is-open", open);
    document.body.classList.toggle("filters-open", open);
    if (toggle) toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      drawer.focus();
    } else if (toggle && narrow.matches) {
      toggle.focus();
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    if (target.closest("[data-filters-toggle]")) {
      event.preventDefault();
      setDrawer(!drawerOpen());
      return;
    }
    if (target.closest("[data-filters-close]")) {
      event.preventDefault();
      setDrawer(false);
      return;
    }
    if (drawerOpen() && target.classList.contains("filters-backdrop")) {
      setDrawer(false);
    }
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(target)) menu.removeAttribute("open");
    });
  });

  document.addEventListener("keydown", function (event) {
    // The "Filters" link acts as a button: Space activates it too.
    var target = event.target instanceof Element ? event.target : null;
    if (event.key === " " && target && target.matches("[data-filters-toggle]")) {
      event.preventDefault();
      setDrawer(!drawerOpen());
      return;
    }
    if (event.key !== "Escape") return;
    if (drawerOpen()) setDrawer(false);
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary) summary.focus();
    });
  });

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!(input instanceof HTMLInputElement || input instanceof HTMLSelectElement)) return;
    var form = input.form;
    if (!form || !form.hasAttribute("data-autosubmit")) return;
    if (input.type === "number") return; // price bounds: "Apply"
    if (drawerOpen() && narrow.matches) return; // the drawer's "Show results"
    form.submit();
  });

  narrow.addEventListener("change", function () {
    if (!narrow.matches) setDrawer(false);
  });

  if (drawer) {
    var backdrop = document.createElement("div");
    backdrop.className = "filters-backdrop";
    backdrop.setAttribute("aria-hidden", "true");
    drawer.parentNode.insertBefore(backdrop, drawer.nextSibling);
    if (window.location.hash === "#filters" && narrow.matches) setDrawer(true);
  }
})();

// The checkout's order summary (a <details data-open-wide>) is a collapsed panel on phones and
// an open sidebar on wide screens, where its title does not fold it.
(function () {
  "use strict";
  var wide = window.matchMedia("(min-width: 861px)");
  var panels = document.querySelectorAll("details[data-open-wide]");
  if (!panels.length) return;
  function apply() {
    panels.forEach(function (panel) {
      panel.open = wide.matches;
    });
  }
  apply();
  wide.addEventListener("change", apply);
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    var summary = target && target.closest("details[data-open-wide] > summary");
    if (summary && wide.matches) event.preventDefault();
  });
})();
