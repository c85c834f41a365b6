// Operations console and process analytics: select-all for bulk migration, the progress bar of a
// bulk migration (polls /jobs/<run_id>), and the analytics charts (ECharts; a click opens the
// instances behind the figure). No inline scripts (CSP): pages carry data-* attributes.
(function () {
  "use strict";

  function selectAll(box) {
    box.addEventListener("change", function () {
      document.querySelectorAll('input[name="instance_ids"]:not(:disabled)').forEach(function (input) {
        input.checked = box.checked;
      });
    });
  }


  function month(value) {
    // "2024-05" → the first and last day of that month, for the instance list's date filters.
    var parts = value.split("-");
    var last = new Date(Number(parts[0]), Number(parts[1]), 0).getDate();
    return { from: value + "-01", to: value + "-" + (last < 10 ? "0" : "") + last };
  }

  function draw(element, option, onClick) {
    if (typeof echarts === "undefined" || !element) { return null; }
    element.style.height = "300px";
    var chart = echarts.init(element);
    chart.setOption(option);
    if (onClick) { chart.on("click", onClick); }
    window.addEventListener("resize", function () { chart.resize(); });
    element.setAttribute("data-chart-ready", "true");
    return chart;
  }

  function drawAnalytics(root) {
    var label = function (name) { return root.getAttribute("data-label-" + name) || name; };
    var list = root.getAttribute("data-instances-url");
    var find = function (name) { return root.querySelector('[data-chart="' + name + '"]'); };
    fetch(root.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
      .then(function (data) {
        draw(find("months"), {
          tooltip: { trigger: "axis" },
          legend: { top: 0 },
          grid: { left: 40, right: 16, top: 36, bottom: 28 },
          xAxis: { type: "category", data: data.months },
          yAxis: { type: "value", minInterval: 1 },
          series: [
            { name: label("started"), type: "bar", data: data.started },
            { name: label("completed"), type: "bar", data: data.completed },
            { name: label("other"), type: "bar", data: data.ended_other }
          ]
        }, function (params) {
          var range = month(data.months[params.dataIndex]);
          window.location.href = list + "&date_from=" + range.from + "&date_to=" + range.to;
        });
        var timed = data.steps.filter(function (s) { return s.mean_hours !== null; });
        var names = timed.map(function (s) { return s.name; });
        draw(find("durations"), {
          tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
          legend: { top: 0 },
          grid: { left: 8, right: 24, top: 36, bottom: 8, containLabel: true },
          xAxis: { type: "value" },
          yAxis: { type: "category", data: names, inverse: true },
          series: [
            { name: label("mean"), type: "bar", data: timed.map(function (s) { return s.mean_hours; }) },
            { name: label("p90"), type: "bar", data: timed.map(function (s) { return s.p90_hours; }) }
          ]
        }, function (params) {
          window.location.href = list + "&step=" + encodeURIComponent(timed[params.dataIndex].spec);
        });
        var due = data.steps.filter(function (s) { return s.overdue_open || s.late; });
        if (!due.length) {
          var none = document.createElement("p");
          none.className = "text-secondary mb-0";
          none.setAttribute("data-chart-empty", "overdue");
          none.textContent = label("none");
          find("overdue").replaceWith(none);
          root.setAttribute("data-charts-ready", "true");
          return;
        }
        draw(find("overdue"), {
          tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
          legend: { top: 0 },
          grid: { left: 8, right: 24, top: 36, bottom: 8, containLabel: true },
          xAxis: { type: "category", data: due.map(function (s) { return s.name; }) },
          yAxis: { type: "value", minInterval: 1 },
          series: [
            { name: label("overdue"), type: "bar", data: due.map(function (s) { return s.overdue_open; }) },
            { name: label("late"), type: "bar", data: due.map(function (s) { return s.late; }) }
          ]
        }, function (params) {
          window.location.href = list + "&overdue=1&step=" + encodeURIComponent(due[params.dataIndex].spec);
        });
        root.setAttribute("data-charts-ready", "true");
      })
      .catch(function () {
        var alert = document.createElement("div");
        alert.className = "col-12";
        alert.innerHTML = '<div class="alert alert-warning"></div>';
        alert.firstChild.textContent = root.getAttribute("data-empty");
        root.insertBefore(alert, root.firstChild);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var all = document.querySelector("[data-select-all]");
    if (all) { selectAll(all); }
    var charts = document.getElementById("analytics-charts");
    if (charts) { drawAnalytics(charts); }
  });
})();
