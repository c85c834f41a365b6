// htmx requests carry the CSRF token from the page's meta tag (no inline scripts: CSP).
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRFToken"] = meta.content; }
});
// Forms marked data-confirm ask before a state change.
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) { event.preventDefault(); }
});
// A background job's progress bar (macro job_progress in _macros.html): polls the job's JSON
// (/jobs/<run_id>, or a module's own status URL) and reloads the page when the job has ended.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-job-progress]").forEach(function (box) {
    var bar = box.querySelector(".progress-bar");
    var meter = box.querySelector(".progress");
    var message = box.querySelector("[data-progress-message]");
    var label = document.getElementById(box.getAttribute("data-job-label") || "");
    function tick() {
      fetch(box.getAttribute("data-job-progress"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
        .then(function (state) {
          var pct = Math.max(0, Math.min(100, state.progress || 0));
          bar.style.width = pct + "%";
          bar.textContent = pct + "%";
          meter.setAttribute("aria-valuenow", pct);
          if (state.message && message) { message.textContent = state.message; }
          if (state.label && label) { label.textContent = state.label; }
          if (state.status === "done" || state.status === "failed" || state.running === false) {
            window.location.reload();
          }
          else { window.setTimeout(tick, 1000); }
        })
        .catch(function () { window.setTimeout(tick, 3000); });
    }
    tick();
  });
});
// Tab and pill rows that scroll sideways on phones (flex-nowrap overflow-auto, portal-tabs):
// bring the current entry into view, so the page's own tab is never hidden off screen.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("ul.nav.overflow-auto, ul.nav.portal-tabs").forEach(function (nav) {
    var active = nav.querySelector(".nav-link.active");
    if (!active || nav.scrollWidth <= nav.clientWidth) { return; }
    var left = active.offsetLeft - nav.offsetLeft;
    var target = left - (nav.clientWidth - active.offsetWidth) / 2;
    nav.scrollLeft = Math.max(0, target);
  });
});
