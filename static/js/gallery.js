// The product page's gallery (templates/shop/_gallery.html), without a build step (CSP: no
// inline scripts).
// * The track swipes on phones by itself (CSS scroll-snap); the thumbnails scroll it to their
//   photo, the arrow keys (Home, End) move it when it has focus, and the current thumbnail and
//   the "2 / 3" count follow whatever brought a photo into view.
// * A click or tap on a photo opens it at full size in a dialog: a click there zooms in where
//   it points (2.5×) and the pointer pans; a second click, Escape or "Close" come back.
//   Without JavaScript the thumbnails are anchors and a photo opens as the image file.
(function () {
  "use strict";

  function setup(gallery) {
    var track = gallery.querySelector("[data-gallery-track]");
    if (!track) return;
    var slides = Array.prototype.slice.call(track.querySelectorAll(".gallery-slide"));
    var thumbs = Array.prototype.slice.call(gallery.querySelectorAll("[data-gallery-thumb]"));
    var count = gallery.querySelector("[data-gallery-count]");
    var current = 0;

    function mark(index) {
      current = index;
      thumbs.forEach(function (thumb, i) {
        if (i === index) thumb.setAttribute("aria-current", "true");
        else thumb.removeAttribute("aria-current");
      });
      if (count) count.textContent = index + 1 + " / " + slides.length;
    }

    // While the track glides to a chosen photo, the photos it passes do not count.
    var settling = null;
    var settleTimer = 0;

    function show(index) {
      index = Math.max(0, Math.min(slides.length - 1, index));
      settling = index;
      clearTimeout(settleTimer);
      settleTimer = setTimeout(function () {
        settling = null;
      }, 1000);
      track.scrollTo({ left: index * track.clientWidth, behavior: "smooth" });
      mark(index);
    }

    thumbs.forEach(function (thumb, i) {
      thumb.addEventListener("click", function (event) {
        event.preventDefault();
        show(i);
      });
    });

    track.addEventListener("keydown", function (event) {
      var keys = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: slides.length - 1 };
      if (!(event.key in keys) || slides.length < 2) return;
      event.preventDefault();
      show(keys[event.key]);
    });

    var pending = 0;
    track.addEventListener("scroll", function () {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(function () {
        var width = track.clientWidth || 1;
        var index = Math.round(track.scrollLeft / width);
        if (settling !== null) {
          if (index === settling) settling = null;
          return;
        }
        if (index !== current && index >= 0 && index < slides.length) mark(index);
      });
    });

    gallery.querySelectorAll("[data-gallery-zoom]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var img = link.querySelector("img");
        if (!img || typeof HTMLDialogElement === "undefined") return; // the image file opens instead
        event.preventDefault();
        zoomOpen(link.getAttribute("href"), img.getAttribute("alt") || "", link);
      });
    });
  }

  var dialog = null;
  var stage = null;
  var full = null;
  var caption = null;
  var opener = null;

  function zoomDialog() {
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.className = "zoom-dialog";
    dialog.setAttribute("aria-label", "Photo at full size");
    var close = document.createElement("button");
    close.type = "button";
    close.className = "zoom-close";
    close.textContent = "Close";
    close.addEventListener("click", function () {
      dialog.close();
    });
    stage = document.createElement("div");
    stage.className = "zoom-stage";
    full = document.createElement("img");
    full.alt = "";
    stage.appendChild(full);
    caption = document.createElement("p");
    caption.className = "zoom-caption";
    stage.addEventListener("click", function (event) {
      var zoomed = stage.classList.toggle("is-zoomed");
      pan(event);
      caption.textContent = zoomed ? "Move to look around · tap or click to zoom out" : "Tap or click to zoom in";
    });
    stage.addEventListener("mousemove", pan);
    dialog.addEventListener("close", function () {
      stage.classList.remove("is-zoomed");
      if (opener) opener.focus();
    });
    dialog.appendChild(close);
    dialog.appendChild(stage);
    dialog.appendChild(caption);
    document.body.appendChild(dialog);
    return dialog;
  }

  function pan(event) {
    if (!stage.classList.contains("is-zoomed")) return;
    var box = stage.getBoundingClientRect();
    var x = ((event.clientX - box.left) / box.width) * 100;
    var y = ((event.clientY - box.top) / box.height) * 100;
    full.style.transformOrigin = x + "% " + y + "%";
  }

  function zoomOpen(url, alt, link) {
    zoomDialog();
    opener = link;
    full.src = url;
    full.alt = alt;
    caption.textContent = "Tap or click to zoom in";
    dialog.showModal();
  }

  document.querySelectorAll("[data-gallery]").forEach(setup);
})();
