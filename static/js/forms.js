// Task forms (templates/forms/_form.html): repeating rows, conditional fields and data-source
// typeahead. The server renders and validates everything; this only spares clicks. No inline JS (CSP).
(function () {
  "use strict";

  // --- conditional fields: data-show-when='[{"field": name, "values": [...], "required": b, "not": b}]'
  function currentValue(scope, name) {
    var inputs = scope.querySelectorAll('[name="' + CSS.escape(name) + '"]');
    var value = "";
    inputs.forEach(function (input) {
      if (input.disabled) { return; }
      if (input.type === "checkbox") { value = input.checked ? "true" : "false"; }
      else if (input.type === "radio") { if (input.checked) { value = input.value; } }
      else { value = input.value; }
    });
    return value;
  }

  function holds(scope, condition) {
    var value = currentValue(scope, condition.field);
    var result = value === "" ? !condition.required : condition.values.indexOf(value) !== -1;
    return result !== condition.not;
  }

  function updateConditions(form) {
    form.querySelectorAll("[data-show-when]").forEach(function (wrapper) {
      if (wrapper.closest("template")) { return; }
      var conditions = JSON.parse(wrapper.getAttribute("data-show-when"));
      var shown = conditions.some(function (c) { return holds(form, c); });
      wrapper.hidden = !shown;
      // Hidden fields are not sent; the server's validation stays the judge.
      wrapper.querySelectorAll("input, select, textarea").forEach(function (input) {
        if (!shown && !input.disabled) { input.disabled = true; input.setAttribute("data-hidden-disabled", ""); }
        if (shown && input.hasAttribute("data-hidden-disabled")) {
          input.disabled = false; input.removeAttribute("data-hidden-disabled");
        }
      });
    });
  }

  // --- repeating rows
  function renumber(rows) {
    var title = rows.getAttribute("data-row-title") || "{n}";
    var list = rows.querySelector("[data-row-list]");
    Array.prototype.forEach.call(list.children, function (row, i) {
      var number = row.querySelector("[data-row-number]");
      if (number) { number.textContent = title.replace("{n}", String(i + 1)); }
    });
    var min = parseInt(rows.getAttribute("data-min-rows") || "0", 10);
    list.querySelectorAll(":scope > [data-row] > .card-header [data-row-remove]").forEach(function (button) {
      button.disabled = list.children.length <= min;
    });
  }

  function addRow(rows) {
    var template = rows.querySelector(":scope > template[data-row-template]");
    var index = parseInt(rows.getAttribute("data-next-index") || "0", 10);
    rows.setAttribute("data-next-index", String(index + 1));
    var holder = document.createElement("div");
    holder.innerHTML = template.innerHTML.split(rows.getAttribute("data-token")).join(String(index));
    var row = holder.firstElementChild;
    rows.querySelector("[data-row-list]").appendChild(row);
    renumber(rows);
    updateConditions(rows.closest("[data-task-form]"));
    var first = row.querySelector("input:not([type=hidden]):not([disabled]), select, textarea");
    if (first) { first.focus(); }
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-row-add]");
    if (add) { addRow(add.closest("[data-rows]")); return; }
    var remove = event.target.closest("[data-row-remove]");
    if (remove) {
      var rows = remove.closest("[data-rows]");
      remove.closest("[data-row]").remove();
      renumber(rows);
      var next = rows.querySelector("[data-row-add]");
      if (next) { next.focus(); }
    }
  });

  document.addEventListener("change", function (event) {
    var form = event.target.closest("[data-task-form]");
    if (form) { updateConditions(form); }
  });

  // --- data-source typeahead: GET data-source-url?q= → [{"value", "label", "detail"}]
  var timers = new WeakMap();

  function listOf(input) { return document.getElementById(input.getAttribute("aria-controls")); }

  function close(input) {
    var list = listOf(input);
    list.hidden = true;
    list.innerHTML = "";
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function show(input, options, message) {
    var list = listOf(input);
    list.innerHTML = "";
    if (message) {
      var li = document.createElement("li");
      li.className = "list-group-item text-secondary";
      li.textContent = message;
      list.appendChild(li);
    }
    options.forEach(function (option, i) {
      var item = document.createElement("li");
      item.className = "list-group-item list-group-item-action";
      item.id = list.id + "-" + i;
      item.setAttribute("role", "option");
      item.setAttribute("data-value", String(option.value));
      item.setAttribute("data-label", option.label);
      item.textContent = option.label;
      if (option.detail) {
        var detail = document.createElement("small");
        detail.className = "text-secondary ms-2";
        detail.textContent = option.detail;
        item.appendChild(detail);
      }
      list.appendChild(item);
    });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function search(input) {
    var box = input.closest("[data-lookup]");
    var query = input.value.trim();
    var url = input.getAttribute("data-source-url") + "?q=" + encodeURIComponent(query);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
      .then(function (options) {
        // Answers to an older query, or after the user left the field, are dropped.
        if (document.activeElement !== input || input.value.trim() !== query) { return; }
        show(input, options, options.length ? "" : box.getAttribute("data-empty-text"));
      })
      .catch(function () { show(input, [], box.getAttribute("data-error-text")); });
  }

  function choose(input, item) {
    clearTimeout(timers.get(input));
    var box = input.closest("[data-lookup]");
    var value = item.getAttribute("data-value");
    var label = item.getAttribute("data-label");
    if (box.hasAttribute("data-multiple")) {
      var chips = box.querySelector("[data-lookup-chips]");
      var taken = Array.prototype.some.call(chips.querySelectorAll("input"), function (i) { return i.value === value; });
      if (!taken) {
        var chip = document.createElement("span");
        chip.className = "badge text-bg-light border d-inline-flex align-items-center gap-1 fs-6 fw-normal";
        chip.setAttribute("data-lookup-chip", "");
        chip.appendChild(document.createTextNode(label));
        var hidden = document.createElement("input");
        hidden.type = "hidden"; hidden.name = box.getAttribute("data-name"); hidden.value = value;
        var remove = document.createElement("button");
        remove.type = "button"; remove.className = "btn-close";
        remove.setAttribute("aria-label", box.getAttribute("data-remove-text") + " " + label);
        remove.setAttribute("data-lookup-remove", "");
        chip.appendChild(hidden); chip.appendChild(remove);
        chips.appendChild(chip);
      }
      input.value = "";
    } else {
      box.querySelector("[data-lookup-value]").value = value;
      input.value = label;
    }
    close(input);
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function move(input, step) {
    var items = listOf(input).querySelectorAll("[role=option]");
    if (!items.length) { return; }
    var current = document.getElementById(input.getAttribute("aria-activedescendant") || "");
    var index = Array.prototype.indexOf.call(items, current) + step;
    index = (index + items.length) % items.length;
    items.forEach(function (item) { item.classList.remove("active"); item.removeAttribute("aria-selected"); });
    items[index].classList.add("active");
    items[index].setAttribute("aria-selected", "true");
    items[index].scrollIntoView({ block: "nearest" });
    input.setAttribute("aria-activedescendant", items[index].id);
  }

  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-source-url]")) { return; }
    var box = input.closest("[data-lookup]");
    if (!box.hasAttribute("data-multiple")) { box.querySelector("[data-lookup-value]").value = ""; }
    clearTimeout(timers.get(input));
    timers.set(input, setTimeout(function () { search(input); }, 250));
  });

  document.addEventListener("focusin", function (event) {
    var input = event.target;
    if (input.matches && input.matches("[data-source-url]") && !input.value) { search(input); }
  });

  document.addEventListener("focusout", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-source-url]")) { return; }
    // Let a tap on an option land before the list closes.
    setTimeout(function () {
      if (document.activeElement !== input) { close(input); }
    }, 200);
  });

  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-source-url]")) { return; }
    var open = input.getAttribute("aria-expanded") === "true";
    if (event.key === "ArrowDown") { event.preventDefault(); if (open) { move(input, 1); } else { search(input); } }
    else if (event.key === "ArrowUp" && open) { event.preventDefault(); move(input, -1); }
    else if (event.key === "Escape" && open) { event.preventDefault(); close(input); }
    else if (event.key === "Enter" && open) {
      var active = document.getElementById(input.getAttribute("aria-activedescendant") || "");
      event.preventDefault(); // Enter picks an option, it never submits the form half-filled
      if (active) { choose(input, active); }
    }
  });

  document.addEventListener("pointerdown", function (event) {
    if (event.target.closest("[data-lookup-list]")) { event.preventDefault(); } // keep the focus
  });

  document.addEventListener("click", function (event) {
    var item = event.target.closest("[data-lookup-list] [role=option]");
    if (item) {
      var input = item.closest("[data-lookup]").querySelector("[data-source-url]");
      choose(input, item);
      return;
    }
    var remove = event.target.closest("[data-lookup-remove]");
    if (remove) {
      var box = remove.closest("[data-lookup]");
      remove.closest("[data-lookup-chip]").remove();
      box.querySelector("[data-source-url]").focus();
    }
  });

  function init() {
    document.querySelectorAll("[data-task-form]").forEach(updateConditions);
    document.querySelectorAll("[data-rows]").forEach(renumber);
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); }
  else { init(); }
})();
