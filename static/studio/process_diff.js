// Version diff: both versions side by side, added / removed / changed elements coloured.
(function () {
  "use strict";
  var root = document.getElementById("diff");
  if (!root || typeof BpmnJS === "undefined") { return; }
  var data = JSON.parse(document.getElementById("diff-data").textContent);

  function show(container, url, marks) {
    var viewer = new BpmnJS({ container: container });
    return fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas"), registry = viewer.get("elementRegistry");
        canvas.zoom("fit-viewport", "auto");
        marks.forEach(function (mark) {
          if (registry.get(mark[0])) { canvas.addMarker(mark[0], mark[1]); }
        });
        return viewer;
      });
  }

  var oldMarks = data.removed.map(function (e) { return [e.id, "diff-removed"]; })
    .concat(data.changed.map(function (e) { return [e.id, "diff-changed"]; }));
  var newMarks = data.added.map(function (e) { return [e.id, "diff-added"]; })
    .concat(data.changed.map(function (e) { return [e.new_id || e.id, "diff-changed"]; }));
  Promise.all([show("#old-canvas", root.dataset.oldUrl, oldMarks), show("#new-canvas", root.dataset.newUrl, newMarks)])
    .then(function () { root.dataset.ready = "1"; })
    .catch(function () { root.dataset.ready = "error"; });
})();
