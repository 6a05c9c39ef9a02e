// Suggestions as you type in the header's search box: the WAI-ARIA combobox pattern (an input
// with a listbox popup, "list" autocomplete). Without JavaScript the box is a plain search form.
// * Typing asks GET /api/v1/suggestions (debounced; an older request is aborted) and lists
//   product types, brands, colours and products; the count is announced in a status region.
// * Down/Up move through the options (aria-activedescendant: focus stays in the input),
//   Enter opens the chosen one (or searches the text when none is chosen), Escape closes the
//   list (and clears the text when it is already closed), Tab or a click elsewhere closes it.
// * A click or tap on an option opens it.
(function () {
  "use strict";
  var form = document.querySelector("form[data-suggest-url]");
  if (!form || !window.fetch) return;
  var input = form.querySelector('input[name="q"]');
  if (!input) return;
  var endpoint = form.getAttribute("data-suggest-url");
  var listId = input.id + "-suggestions";
  var wide = window.matchMedia("(min-width: 861px)");
  var debounceMs = 150;
  var timer = null;
  var controller = null;
  var options = [];
  var active = -1;
  var lastText = null;

  var list = document.createElement("ul");
  list.id = listId;
  list.className = "suggestions";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "Search suggestions");
  list.hidden = true;
  var status = document.createElement("div");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  form.appendChild(list);
  form.appendChild(status);

  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", listId);
  input.setAttribute("autocomplete", "off");

  function placeholder() {
    var longer = input.getAttribute("data-placeholder-wide");
    var short = input.getAttribute("data-placeholder-narrow") || input.placeholder;
    if (!input.hasAttribute("data-placeholder-narrow")) input.setAttribute("data-placeholder-narrow", short);
    input.placeholder = wide.matches && longer ? longer : short;
  }
  placeholder();
  wide.addEventListener("change", placeholder);

  function setActive(index) {
    options.forEach(function (option, i) {
      option.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    active = index;
    if (index >= 0) {
      input.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    setActive(-1);
  }

  function open() {
    if (!options.length) return;
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function render(suggestions) {
    list.textContent = "";
    options = suggestions.map(function (suggestion, i) {
      var option = document.createElement("li");
      option.id = listId + "-" + i;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.setAttribute("data-url", suggestion.url);
      option.className = "suggestion suggestion-" + suggestion.kind;
      var label = document.createElement("span");
      label.className = "suggestion-label";
      label.textContent = suggestion.label;
      var kind = document.createElement("span");
      kind.className = "suggestion-kind";
      kind.textContent =
        suggestion.kind_label + (suggestion.count ? " · " + suggestion.count.toLocaleString() : "");
      option.appendChild(label);
      option.appendChild(kind);
      list.appendChild(option);
      return option;
    });
    active = -1;
    input.removeAttribute("aria-activedescendant");
    if (options.length) {
      open();
      status.textContent =
        options.length + (options.length === 1 ? " suggestion" : " suggestions") + ": use the up and down arrows to choose.";
    } else {
      close();
      status.textContent = "";
    }
  }

  function ask() {
    var text = input.value.trim();
    if (text === lastText) {
      open();
      return;
    }
    lastText = text;
    if (controller) controller.abort();
    if (!text) {
      render([]);
      return;
    }
    controller = window.AbortController ? new AbortController() : null;
    var url = endpoint + "?" + new URLSearchParams({ q: text.slice(0, 100) }).toString();
    form.setAttribute("aria-busy", "true");
    fetch(url, { headers: { Accept: "application/json" }, signal: controller ? controller.signal : undefined })
      .then(function (response) {
        return response.ok ? response.json() : { suggestions: [] };
      })
      .then(function (body) {
        if (input.value.trim() === text) render(body.suggestions || []);
      })
      .catch(function () {
        /* aborted or offline: the plain search still works */
      })
      .then(function () {
        form.removeAttribute("aria-busy");
      });
  }

  function go(option) {
    var url = option && option.getAttribute("data-url");
    if (url) window.location.assign(url);
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, debounceMs);
  });

  input.addEventListener("keydown", function (event) {
    var expanded = !list.hidden;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!options.length) return;
      event.preventDefault();
      if (!expanded) {
        open();
        setActive(event.key === "ArrowDown" ? 0 : options.length - 1);
        return;
      }
      var step = event.key === "ArrowDown" ? 1 : -1;
      var next = active + step;
      if (next >= options.length) next = -1; // past the last: back to the text
      if (next < -1) next = options.length - 1;
      setActive(next);
    } else if (event.key === "Enter") {
      if (expanded && active >= 0) {
        event.preventDefault();
        go(options[active]);
      }
    } else if (event.key === "Escape") {
      if (expanded) {
        event.preventDefault();
        event.stopPropagation();
        close();
      } else if (input.value) {
        event.preventDefault();
        input.value = "";
        lastText = null;
        render([]);
      }
    } else if (event.key === "Tab") {
      close();
    }
  });

  // Keep the focus in the input while pressing an option; open it on release.
  list.addEventListener("mousedown", function (event) {
    event.preventDefault();
  });
  list.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target.closest('[role="option"]') : null;
    if (target) go(target);
  });

  input.addEventListener("focus", function () {
    if (input.value.trim() && input.value.trim() === lastText) open();
  });
  document.addEventListener("click", function (event) {
    if (event.target instanceof Node && !form.contains(event.target)) close();
  });
  form.addEventListener("focusout", function (event) {
    if (!(event.relatedTarget instanceof Node) || !form.contains(event.relatedTarget)) close();
  });
})();
