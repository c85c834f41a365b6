// Clinical module: a doctor's metric charts (ECharts; clicking a bar or point opens the rows behind it).
// No inline scripts (CSP): pages carry data-* attributes.
(function () {
  "use strict";

  function drill(series, month) {
    if (series && series.url) { window.location.href = series.url.split("__M__").join(month); }
  }

  function chart(element, data, keys, options) {
    if (typeof echarts === "undefined") { return; }
    element.style.height = "280px";
    var instance = echarts.init(element);
    var shown = keys.map(function (key) {
      var series = data.series[key];
      return Object.assign({ name: series.label, data: series.values, type: options.type || "bar",
                             connectNulls: true },
                           options.stack ? { stack: "total" } : {},
                           options.axis && options.axis[key] ? { yAxisIndex: options.axis[key] } : {});
    });
    instance.setOption({
      tooltip: { trigger: "axis" },
      legend: { top: 0, type: "scroll" },
      grid: { left: 48, right: options.twoAxes ? 56 : 16, top: 36, bottom: 28 },
      xAxis: { type: "category", data: data.months },
      yAxis: options.twoAxes ? [{ type: "value" }, { type: "value" }] : { type: "value", minInterval: 1 },
      series: shown
    });
    instance.on("click", function (params) {
      drill(data.series[keys[params.seriesIndex]], data.months[params.dataIndex]);
    });
    window.addEventListener("resize", function () { instance.resize(); });
  }

  function drawCharts(root) {
    fetch(root.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var find = function (name) { return root.querySelector('[data-chart="' + name + '"]'); };
        chart(find("workload"), data, ["discharges", "operations"], {});
        chart(find("levels"), data, ["ops_level1", "ops_level2", "ops_level3", "ops_level4"], { stack: true });
        chart(find("efficiency"), data, ["avg_los", "avg_cost"],
              { type: "line", twoAxes: true, axis: { avg_cost: 1 } });
        chart(find("quality"), data, ["deaths", "unplanned_readmissions", "ops_above_level", "complications",
                                      "long_stays"], {});
      })
      .catch(function () {
        root.insertAdjacentHTML("afterbegin", '<div class="col-12"><div class="alert alert-warning"></div></div>');
        root.querySelector(".alert").textContent = root.getAttribute("data-empty");
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var charts = document.getElementById("clinical-charts");
    if (charts) { drawCharts(charts); }
  });
})();
