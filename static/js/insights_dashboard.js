/* The insights dashboard's charts (Chart.js, vendored under static/vendor/chartjs): the figures
   come from the page's JSON block (#insights-data); each chart's table and CSV are in the page. */
(function () {
  "use strict";
  var source = document.getElementById("insights-data");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var labels = data.labels.map(function (day) {
    var d = new Date(day + "T00:00:00");
    return d.toLocaleDateString(undefined, { day: "numeric", month: "short" });
  });
  var blue = "#2f81f7", green = "#1a7f37", orange = "#d4760a", purple = "#8250df", grey = "#6e7781";
  var common = {
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: "index", intersect: false },
    plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
    scales: { x: { ticks: { maxRotation: 0, autoSkipPadding: 12 } }, y: { beginAtZero: true, ticks: { precision: 0 } } }
  };
  function chart(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) new Chart(canvas, config);
  }
  chart("chart-searches", {
    type: "bar",
    data: {
      labels: labels,
      datasets: [
        { label: "Text searches", data: data.text, backgroundColor: grey },
        { label: "Find similar", data: data.similar, backgroundColor: blue },
        { label: "Photo searches", data: data.photo, backgroundColor: purple }
      ]
    },
    options: Object.assign({}, common, { scales: { x: { stacked: true, ticks: common.scales.x.ticks }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } })
  });
  chart("chart-conversions", {
    data: {
      labels: labels,
      datasets: [
        { type: "bar", label: "Clicks on a result", data: data.clicks, backgroundColor: blue, yAxisID: "y" },
        { type: "bar", label: "Adds to bag", data: data.bag_adds, backgroundColor: green, yAxisID: "y" },
        { type: "line", label: "Click-through %", data: data.click_through, borderColor: orange, backgroundColor: orange, yAxisID: "pct", spanGaps: true, tension: 0.2 }
      ]
    },
    options: Object.assign({}, common, {
      scales: {
        x: common.scales.x,
        y: { beginAtZero: true, ticks: { precision: 0 } },
        pct: { position: "right", beginAtZero: true, suggestedMax: 100, grid: { drawOnChartArea: false }, ticks: { callback: function (v) { return v + "%"; } } }
      }
    })
  });
  chart("chart-orders", {
    data: {
      labels: labels,
      datasets: [
        { type: "bar", label: "Revenue (" + data.currency + ")", data: data.revenue, backgroundColor: green, yAxisID: "money" },
        { type: "line", label: "Orders", data: data.orders, borderColor: blue, backgroundColor: blue, yAxisID: "y" }
      ]
    },
    options: Object.assign({}, common, {
      scales: {
        x: common.scales.x,
        money: { position: "left", beginAtZero: true },
        y: { position: "right", beginAtZero: true, ticks: { precision: 0 }, grid: { drawOnChartArea: false } }
      }
    })
  });
})();
