// Rules studio: dmn-js decision-table editor plus the validate / test / backtest / save calls.
(function () {
  "use strict";
  var root = document.getElementById("studio");
  if (!root || typeof DmnJS === "undefined") { return; }
  var key = root.dataset.key;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var translated = window.medtechTranslateModule(root); // the editor's own texts in the UI's language
  var views = {};
  ["drd", "decisionTable", "literalExpression", "boxedExpression"].forEach(function (view) {
    views[view] = { additionalModules: [translated] };
  });
  var modeler = new DmnJS(Object.assign({ container: "#dmn-editor" }, views));
  window.medtechDmn = modeler; // browser tests read the editor's state through it

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_m, name) { return values[name]; });
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    });
  }

  function currentXml() {
    return modeler.saveXML({ format: true }).then(function (result) { return result.xml; });
  }

  function openTable() {
    var views = modeler.getViews();
    var view = views.filter(function (v) { return v.element.id === key && v.type !== "drd"; })[0] ||
      views.filter(function (v) { return v.type === "decisionTable"; })[0];
    return view ? modeler.open(view) : Promise.resolve();
  }

  function showProblems(problems) {
    var list = document.getElementById("problems");
    list.innerHTML = "";
    if (!problems.length) {
      var ok = document.createElement("li");
      ok.className = "text-success";
      ok.textContent = root.dataset.msgNoProblems;
      list.appendChild(ok);
      return;
    }
    problems.forEach(function (p) {
      var item = document.createElement("li");
      item.className = p.level === "error" ? "text-danger" : "text-warning-emphasis";
      item.textContent = p.message;
      list.appendChild(item);
    });
  }

  function inputValues() {
    var values = {};
    document.querySelectorAll("#test-inputs input").forEach(function (input) {
      var raw = input.value.trim();
      if (raw === "") { return; }
      var type = input.dataset.type;
      var value = raw;
      if (type === "number" || type === "integer" || type === "double" || type === "long") {
        value = Number(raw);
        if (isNaN(value)) { value = raw; }
      } else if (type === "boolean") {
        value = raw === "true" || raw === "1" || raw === "是";
      } else if (!type) {
        try { value = JSON.parse(raw); } catch (e) { value = raw; }
      }
      values[input.dataset.name] = value;
    });
    return values;
  }

  function failed(error) {
    return fill(root.dataset.msgFailed, { error: error });
  }

  document.getElementById("check-button").addEventListener("click", function () {
    currentXml().then(function (xml) { return post(root.dataset.checkUrl, { xml: xml }); })
      .then(function (r) { showProblems(r.data.problems || []); });
  });

  document.getElementById("save-button").addEventListener("click", function () {
    currentXml().then(function (xml) { return post(root.dataset.saveUrl, { xml: xml }); })
      .then(function (r) {
        if (r.ok) {
          window.location.assign(r.data.url);
        } else {
          showProblems(r.data.problems && r.data.problems.length ? r.data.problems :
            [{ level: "error", message: r.data.error || failed("") }]);
        }
      });
  });

  document.getElementById("test-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var out = document.getElementById("test-result");
    currentXml().then(function (xml) {
      return post(root.dataset.testUrl, { xml: xml, inputs: inputValues() });
    }).then(function (r) {
      if (!r.data.ok) { out.textContent = failed(r.data.error); return; }
      var matched = r.data.matched.map(function (m) { return "#" + m.index + " " + (m.id || ""); });
      out.textContent = (matched.length ? matched.join(", ") : root.dataset.msgNoMatch) +
        "\n→ " + JSON.stringify(r.data.result, null, 1);
    });
  });

  document.getElementById("backtest-button").addEventListener("click", function () {
    var out = document.getElementById("backtest-result");
    var limit = parseInt(document.getElementById("backtest-limit").value, 10) || 200;
    currentXml().then(function (xml) { return post(root.dataset.backtestUrl, { xml: xml, limit: limit }); })
      .then(function (r) {
        out.innerHTML = "";
        if (!r.ok) { out.textContent = failed(r.data.error || r.data.message || ""); return; }
        var summary = document.createElement("p");
        summary.className = "mb-1";
        summary.textContent = r.data.changed.length ?
          fill(root.dataset.msgChanged, { n: r.data.checked, c: r.data.changed.length }) :
          fill(root.dataset.msgUnchanged, { n: r.data.checked });
        out.appendChild(summary);
        var list = document.createElement("ul");
        list.className = "ps-3 mb-0 backtest-changes";
        r.data.changed.forEach(function (row) {
          var item = document.createElement("li");
          item.textContent = JSON.stringify(row.inputs) + ": " + JSON.stringify(row.before) +
            " (" + row.before_rules.join(", ") + ") → " +
            (row.error ? row.error : JSON.stringify(row.after) + " (" + row.after_rules.join(", ") + ")");
          list.appendChild(item);
        });
        out.appendChild(list);
      });
  });

  fetch(root.dataset.xmlUrl, { credentials: "same-origin" })
    .then(function (response) { return response.text(); })
    .then(function (xml) { return modeler.importXML(xml); })
    .then(openTable)
    .then(function () { root.dataset.ready = "1"; })
    .catch(function (error) { showProblems([{ level: "error", message: failed(error.message) }]); });
})();
