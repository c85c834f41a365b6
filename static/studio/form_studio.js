// Form studio: format the JSON; the live preview itself is an htmx POST.
(function () {
  "use strict";
  var area = document.getElementById("content");
  if (!area) { return; }
  function changed() { area.dispatchEvent(new Event("input", { bubbles: true })); }
  document.getElementById("format-json").addEventListener("click", function () {
    try {
      area.value = JSON.stringify(JSON.parse(area.value), null, 2);
      changed();
    } catch (e) { changed(); } // the preview names the syntax error
  });
})();
