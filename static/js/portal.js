// Task portal: the process diagram (bpmn-js viewer, steps marked done / current / pending) and
// small helpers for the action dialogs. No inline scripts (CSP); the server decides everything.
(function () {
  "use strict";

  function drawDiagram(box) {
    if (!window.BpmnJS) { return fail(box); }
    fetch(box.getAttribute("data-diagram-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
      .then(function (data) {
        var viewer = new window.BpmnJS({ container: box });
        return viewer.importXML(data.xml).then(function () {
          var canvas = viewer.get("canvas");
          var registry = viewer.get("elementRegistry");
          function mark(ids, cls) {
            (ids || []).forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, cls); } });
          }
          mark(data.done, "mt-done");
          mark(data.flows_done, "mt-done");
          mark(data.current, "mt-current");
          mark(data.failed, "mt-failed");
          canvas.zoom("fit-viewport", "auto");
          box.setAttribute("data-diagram-ready", "true");
          box.setAttribute("data-current", (data.current || []).join(" "));
          box.setAttribute("data-done", (data.done || []).join(" "));
          window.addEventListener("resize", function () { canvas.zoom("fit-viewport", "auto"); });
        });
      })
      .catch(function () { fail(box); });
  }

  function fail(box) {
    box.classList.add("portal-diagram-failed");
    box.textContent = box.getAttribute("data-error-text") || "";
    box.setAttribute("data-diagram-ready", "failed");
  }

  document.querySelectorAll("[data-diagram-url]").forEach(drawDiagram);

  // A dialog that comes back with an error (e.g. "choose a person") opens again by itself.
  var failed = document.querySelector("[data-failed-action]");
  if (failed && window.bootstrap) {
    var dialog = document.getElementById("modal-" + failed.getAttribute("data-failed-action"));
    if (dialog) { window.bootstrap.Modal.getOrCreateInstance(dialog).show(); }
  }

  // Focus the first field of a dialog when it opens (one thumb, no extra tap).
  document.addEventListener("shown.bs.modal", function (event) {
    var field = event.target.querySelector("input:not([type=hidden]), select, textarea");
    if (field) { field.focus(); }
  });
})();
