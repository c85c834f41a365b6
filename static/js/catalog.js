// Catalog module charts (ECharts). Clicking a bar opens the rows behind it. No inline scripts (CSP):
// pages carry their data in data-* attributes or name a JSON URL.
(function () {
  "use strict";

  function sized(element) {
    element.style.height = "300px";
    var instance = echarts.init(element);
    window.addEventListener("resize", function () { instance.resize(); });
    return instance;
  }

  // Items by kind (x) stacked by level; a click lists the items of that kind and level.
  function kindChart(element) {
    var data = JSON.parse(element.getAttribute("data-chart"));
    var levelKeys = ["1", "2", "3", "4", "none"];
    var chart = sized(element);
    chart.setOption({
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, type: "scroll" },
      grid: { left: 40, right: 16, top: 36, bottom: 64 },
      xAxis: { type: "category", data: data.kinds, axisLabel: { interval: 0, rotate: 30 } },
      yAxis: { type: "value", minInterval: 1 },
      series: data.levels.map(function (label, index) {
        return { name: label, type: "bar", stack: "items", data: data.values[index] };
      })
    });
    chart.on("click", function (params) {
      var base = element.getAttribute("data-url");
      window.location.href = base + "?kind=" + encodeURIComponent(data.keys[params.dataIndex]) +
        "&level=" + levelKeys[params.seriesIndex];
    });
  }

  // A restricted technology by month: cases as bars, complications, deaths, reoperations as lines.
  function restrictedChart(element) {
    fetch(element.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var keys = ["cases", "complications", "deaths", "reoperations"];
        var chart = sized(element);
        chart.setOption({
          tooltip: { trigger: "axis" },
          legend: { top: 0, type: "scroll" },
          grid: { left: 40, right: 16, top: 36, bottom: 28 },
          xAxis: { type: "category", data: data.months },
          yAxis: { type: "value", minInterval: 1 },
          series: keys.map(function (key, index) {
            var series = data.series[key];
            return { name: series.label, data: series.values, type: index === 0 ? "bar" : "line" };
          })
        });
        chart.on("click", function (params) {
          var series = data.series[keys[params.seriesIndex]];
          if (series && series.url) { window.location.href = series.url.split("__M__").join(data.months[params.dataIndex]); }
        });
      })
      .catch(function () {
        var note = document.createElement("div");
        note.className = "alert alert-warning";
        note.textContent = element.getAttribute("data-empty");
        element.replaceWith(note);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof echarts === "undefined") { return; }
    var kinds = document.getElementById("catalog-kind-chart");
    if (kinds) { kindChart(kinds); }
    var restricted = document.getElementById("restricted-chart");
    if (restricted) { restrictedChart(restricted); }
  });
})();
