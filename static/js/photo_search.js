// Search by photo, without a build step (CSP: no inline scripts).
// * Crop to search: once a photo is chosen it shows with a box the shopper drags around the
//   item (mouse, pen or touch: pointer events); grabbing the middle of the box moves it. The box travels in the hidden "box" field as
//   x0,y0,x1,y1 in 0–1 of the upright photo; it starts as the photo with uniform borders
//   trimmed, like the server's default (visualsearch.search.default_box), and is sent only
//   once the shopper moves or draws it: with none sent the server trims alike and scores
//   each product by the better of the trimmed and the whole photo.
// * Progress: a submitted search disables its button and shows a spinner.
// * After a search the results scroll into view (on a phone they sit below the form).
(function () {
  "use strict";

  var MIN_SIDE = 0.05; // visualsearch.search.MIN_BOX_SIDE
  var TOLERANCE = 24; // BORDER_TOLERANCE
  var SHARE = 0.98; // BORDER_SHARE
  var MARGIN = 0.08; // BORDER_MARGIN
  var KEEPS_AT_MOST = 0.85; // TRIM_KEEPS_AT_MOST
  var WHITE = 235; // WHITE_BACKDROP

  function clamp(v) {
    return Math.min(1, Math.max(0, v));
  }

  // --- the default box: uniform borders trimmed (mirrors default_box) ---------------------
  function defaultBox(img) {
    var scale = Math.min(1, 128 / Math.max(img.naturalWidth, img.naturalHeight));
    var w = Math.max(1, Math.round(img.naturalWidth * scale));
    var h = Math.max(1, Math.round(img.naturalHeight * scale));
    if (w < 8 || h < 8) return [0, 0, 1, 1];
    var canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    var ctx = canvas.getContext("2d");
    var data;
    try {
      ctx.drawImage(img, 0, 0, w, h);
      data = ctx.getImageData(0, 0, w, h).data;
    } catch (e) {
      return [0, 0, 1, 1];
    }
    function px(x, y, c) {
      return data[(y * w + x) * 4 + c];
    }
    function median(values) {
      values.sort(function (a, b) { return a - b; });
      return values[Math.floor(values.length / 2)];
    }
    function lineColour(points) {
      return [0, 1, 2].map(function (c) {
        return median(points.map(function (p) { return px(p[0], p[1], c); }));
      });
    }
    function uniform(points, colour) {
      var close = 0;
      points.forEach(function (p) {
        var d = Math.max(
          Math.abs(px(p[0], p[1], 0) - colour[0]),
          Math.abs(px(p[0], p[1], 1) - colour[1]),
          Math.abs(px(p[0], p[1], 2) - colour[2])
        );
        if (d <= TOLERANCE) close += 1;
      });
      return close / points.length >= SHARE;
    }
    function row(y, x0, x1) {
      var out = [];
      for (var x = x0; x < x1; x++) out.push([x, y]);
      return out;
    }
    function column(x, y0, y1) {
      var out = [];
      for (var y = y0; y < y1; y++) out.push([x, y]);
      return out;
    }
    var sides = [lineColour(row(0, 0, w)), lineColour(row(h - 1, 0, w)), lineColour(column(0, 0, h)), lineColour(column(w - 1, 0, h))];
    var white = sides.every(function (c) { return Math.min(c[0], c[1], c[2]) >= WHITE; });
    if (white) return [0, 0, 1, 1]; // a studio-white backdrop, like the catalogue's photos
    var top = 0, bottom = h, left = 0, right = w, colour;
    colour = lineColour(row(0, 0, w));
    while (top < Math.floor(h / 2) && uniform(row(top, 0, w), colour)) top++;
    colour = lineColour(row(h - 1, 0, w));
    while (bottom > top + Math.floor(h / 10) && uniform(row(bottom - 1, 0, w), colour)) bottom--;
    colour = lineColour(column(0, 0, h));
    while (left < Math.floor(w / 2) && uniform(column(left, top, bottom), colour)) left++;
    colour = lineColour(column(w - 1, 0, h));
    while (right > left + Math.floor(w / 10) && uniform(column(right - 1, top, bottom), colour)) right--;
    if (bottom - top < h * MIN_SIDE * 2 || right - left < w * MIN_SIDE * 2) return [0, 0, 1, 1];
    var mx = (right - left) * MARGIN, my = (bottom - top) * MARGIN;
    var box = [clamp((left - mx) / w), clamp((top - my) / h), clamp((right + mx) / w), clamp((bottom + my) / h)];
    if ((box[2] - box[0]) * (box[3] - box[1]) > KEEPS_AT_MOST) return [0, 0, 1, 1];
    return box;
  }

  // --- the crop tool ------------------------------------------------------------------------
  function setUpCrop(form) {
    // "Take a photo" and "Choose from gallery": two inputs of one name; the last chosen counts.
    var files = Array.prototype.slice.call(form.querySelectorAll('input[type="file"]'));
    var file = files[0];
    var chosenLabel = form.querySelector("[data-photo-chosen]");
    var crop = form.querySelector("[data-crop]");
    var stage = form.querySelector("[data-crop-stage]");
    var img = form.querySelector("[data-crop-image]");
    var boxEl = form.querySelector("[data-crop-box]");
    var input = form.querySelector("[data-crop-input]");
    var reset = form.querySelector("[data-crop-reset]");
    if (!file || !crop || !stage || !img || !boxEl || !input) return;
    var box = null;
    var drag = null;
    var chosenByShopper = false; // the default box is shown but not sent: the server trims alike and also tries the whole photo

    function show() {
      if (!box) {
        boxEl.hidden = true;
        input.value = "";
        return;
      }
      boxEl.hidden = false;
      boxEl.style.left = box[0] * 100 + "%";
      boxEl.style.top = box[1] * 100 + "%";
      boxEl.style.width = (box[2] - box[0]) * 100 + "%";
      boxEl.style.height = (box[3] - box[1]) * 100 + "%";
      var whole = box[0] <= 0 && box[1] <= 0 && box[2] >= 1 && box[3] >= 1;
      if (!chosenByShopper) input.value = "";
      else input.value = whole ? "0,0,1,1" : box.map(function (v) { return v.toFixed(4); }).join(",");
    }

    function point(event) {
      var rect = img.getBoundingClientRect();
      return [clamp((event.clientX - rect.left) / rect.width), clamp((event.clientY - rect.top) / rect.height)];
    }

    function picked(source) {
      files.forEach(function (other) {
        if (other !== source) other.value = ""; // one photo is sent
      });
      box = null;
      chosenByShopper = false;
      show();
      var chosen = source.files && source.files[0];
      if (chosenLabel) chosenLabel.textContent = chosen ? "Chosen: " + chosen.name : "";
      if (!chosen || !/^image\//.test(chosen.type || "image/")) {
        crop.hidden = true;
        return;
      }
      // A data: URL (the CSP allows data: images, not blob: ones).
      var reader = new FileReader();
      reader.onload = function () {
        img.src = String(reader.result);
      };
      img.onload = function () {
        crop.hidden = false;
        box = defaultBox(img);
        show();
      };
      img.onerror = function () {
        crop.hidden = true; // a format the browser cannot show: the server decides
      };
      reader.readAsDataURL(chosen);
    }
    files.forEach(function (each) {
      each.addEventListener("change", function () {
        picked(each);
      });
    });

    stage.addEventListener("pointerdown", function (event) {
      if (event.button !== undefined && event.button > 0) return;
      event.preventDefault();
      var p = point(event);
      // Grabbing the middle of a box moves it; anywhere else draws a new one.
      var whole = !box || (box[0] <= 0 && box[1] <= 0 && box[2] >= 1 && box[3] >= 1);
      var qw = box ? (box[2] - box[0]) / 4 : 0, qh = box ? (box[3] - box[1]) / 4 : 0;
      var inside = !whole && p[0] > box[0] + qw && p[0] < box[2] - qw && p[1] > box[1] + qh && p[1] < box[3] - qh;
      drag = inside ? { mode: "move", start: p, from: box.slice() } : { mode: "draw", start: p };
      chosenByShopper = true;
      if (stage.setPointerCapture) stage.setPointerCapture(event.pointerId);
    });
    stage.addEventListener("pointermove", function (event) {
      if (!drag) return;
      event.preventDefault();
      var p = point(event);
      if (drag.mode === "move") {
        var dx = p[0] - drag.start[0], dy = p[1] - drag.start[1];
        var f = drag.from;
        dx = Math.min(Math.max(dx, -f[0]), 1 - f[2]);
        dy = Math.min(Math.max(dy, -f[1]), 1 - f[3]);
        box = [f[0] + dx, f[1] + dy, f[2] + dx, f[3] + dy];
      } else {
        box = [
          Math.min(drag.start[0], p[0]),
          Math.min(drag.start[1], p[1]),
          Math.max(drag.start[0], p[0]),
          Math.max(drag.start[1], p[1]),
        ];
      }
      show();
    });
    function end() {
      if (!drag) return;
      drag = null;
      if (box && (box[2] - box[0] < MIN_SIDE || box[3] - box[1] < MIN_SIDE)) {
        box = [0, 0, 1, 1]; // a tap, not a box: the whole photo
      }
      show();
    }
    stage.addEventListener("pointerup", end);
    stage.addEventListener("pointercancel", end);
    if (reset) {
      reset.addEventListener("click", function () {
        box = [0, 0, 1, 1];
        chosenByShopper = true;
        show();
      });
    }
  }

  // --- progress -----------------------------------------------------------------------------
  function setUpProgress(form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("[data-search-button]") || form.querySelector('button[type="submit"]');
      if (button) {
        button.setAttribute("data-label", button.textContent);
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
        button.textContent = "Searching…";
      }
      var progress = form.querySelector("[data-search-progress]");
      if (progress) progress.hidden = false;
      var results = document.getElementById("results");
      if (results) results.setAttribute("aria-busy", "true");
      form.classList.add("is-searching");
    });
  }

  // A page restored from the back/forward cache must not keep a disabled button.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("[data-photo-search-form]").forEach(function (form) {
      form.classList.remove("is-searching");
      var button = form.querySelector("[data-search-button]");
      if (button && button.disabled) {
        button.disabled = false;
        button.removeAttribute("aria-busy");
        button.textContent = button.getAttribute("data-label") || button.textContent;
      }
      var progress = form.querySelector("[data-search-progress]");
      if (progress) progress.hidden = true;
    });
  });

  document.querySelectorAll("[data-photo-search-form]").forEach(function (form) {
    setUpProgress(form);
    if (form.querySelector("[data-crop]")) setUpCrop(form);
  });

  // --- results into view --------------------------------------------------------------------
  var results = document.querySelector("[data-scroll-into-view]");
  if (results && results.getBoundingClientRect().top > window.innerHeight * 0.6) {
    results.scrollIntoView({ block: "start" });
  }
})();
