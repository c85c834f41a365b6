// Process studio: the bpmn-js modeler, our properties panel for the `mt:` extensions (forms, roles,
// operations, decisions, timers, countersign), the validation report drawn on the diagram, saving
// drafts and exporting. No inline scripts (CSP): the page hands its data over in JSON blocks.
(function () {
  "use strict";
  var root = document.getElementById("studio");
  if (!root || typeof BpmnJS === "undefined") { return; }

  var MT_URI = "http://medtech.local/schema/bpmn/1.0";
  // Our extension attributes, as moddle reads and writes them (see app/workflow/EXTENSIONS.md).
  var MT_DESCRIPTOR = {
    name: "MedTech", uri: MT_URI, prefix: "mt", xml: { tagAlias: "lowerCase" }, associations: [],
    types: [
      {
        name: "Extensions", "extends": ["bpmn:BaseElement"],
        properties: ["form", "role", "assignee", "candidates", "due", "skipIfApproved", "skipApproved",
          "countersign", "resultVariable", "operation", "decision", "timeoutAction", "correlationKey"]
          .map(function (name) { return { name: name, isAttr: true, type: "String" }; })
      },
      {
        name: "Param", superClass: ["Element"],
        properties: [{ name: "name", isAttr: true, type: "String" }, { name: "value", isAttr: true, type: "String" }]
      }
    ]
  };

  function readJson(id, fallback) {
    var el = document.getElementById(id);
    try { return el ? JSON.parse(el.textContent) : fallback; } catch (e) { return fallback; }
  }

  var options = readJson("studio-options", { forms: [], roles: [], operations: [], decisions: [] });
  var texts = readJson("studio-texts", {});
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var modeler = new BpmnJS({ container: "#canvas", moddleExtensions: { mt: MT_DESCRIPTOR },
                             additionalModules: [window.medtechTranslateModule(root)] });
  window.medtechModeler = modeler; // browser tests drive the modeler through it
  var modeling = modeler.get("modeling");
  var moddle = modeler.get("moddle");
  var registry = modeler.get("elementRegistry");
  var canvas = modeler.get("canvas");
  var overlays = modeler.get("overlays");
  var selection = modeler.get("selection");
  var eventBus = modeler.get("eventBus");
  var panel = document.getElementById("props");
  var current = null;

  function t(name, values) {
    var text = texts[name] || name;
    return text.replace(/\{(\w+)\}/g, function (_m, key) { return values && key in values ? values[key] : ""; });
  }

  // --- ISO 8601 timers (the same grammar as app/workflow/scripting.py) -----------------------
  var NUM = "\\d+(?:[.,]\\d+)?";
  var DURATION = "P(?=\\d|T\\d)(?:" + NUM + "Y)?(?:" + NUM + "M)?(?:" + NUM + "W)?(?:" + NUM + "D)?" +
    "(?:T(?=\\d)(?:" + NUM + "H)?(?:" + NUM + "M)?(?:" + NUM + "S)?)?";
  var DATETIME = "\\d{4}-\\d{2}-\\d{2}(?:T\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d+)?)?(?:Z|[+-]\\d{2}:?\\d{2})?)?";
  var SPAN = "(?:" + DATETIME + "|" + DURATION + ")";
  var TIMER_PATTERNS = {
    timeDuration: new RegExp("^" + DURATION + "$"),
    timeDate: new RegExp("^" + DATETIME + "$"),
    timeCycle: new RegExp("^R\\d*/" + SPAN + "(?:/" + SPAN + ")?$")
  };

  function isIsoTimer(kind, value) {
    return TIMER_PATTERNS[kind].test(value.trim().replace(/^["']|["']$/g, ""));
  }

  // --- reading the model -----------------------------------------------------------------------
  function bo(element) { return element.businessObject; }
  function is(element, type) { return bo(element) && bo(element).$instanceOf(type); }

  function camunda(obj, name) {
    var attrs = obj.$attrs || {};
    for (var key in attrs) {
      if (Object.prototype.hasOwnProperty.call(attrs, key) && key.split(":")[1] === name) { return attrs[key]; }
    }
    return undefined;
  }

  function mt(obj, name) { var value = obj.get("mt:" + name); return value === undefined ? "" : value; }

  function processOf(element) {
    var obj = element ? bo(element) : null;
    if (!obj) { return null; }
    if (obj.$instanceOf("bpmn:Participant")) { return obj.processRef; }
    if (obj.$instanceOf("bpmn:Process")) { return obj; }
    if (obj.$instanceOf("bpmn:Collaboration")) {
      var participant = (obj.participants || []).filter(function (p) { return p.processRef && p.processRef.id === root.dataset.key; })[0];
      return participant ? participant.processRef : null;
    }
    return null;
  }

  function timerDefinition(element) {
    return (bo(element).eventDefinitions || []).filter(function (d) { return d.$instanceOf("bpmn:TimerEventDefinition"); })[0];
  }

  function params(obj) {
    var ext = obj.extensionElements;
    return ext && ext.values ? ext.values.filter(function (v) { return v.$type === "mt:Param"; }) : [];
  }

  // ids of the loop collection survive import: bpmn-js drops references to undeclared ids (our
  // `loopDataInputRef` names a process variable), so put them back as plain references.
  function reference(id) { return moddle.create("bpmn:DataInput", { id: id }); }

  function restoreReferences(warnings) {
    (warnings || []).forEach(function (w) {
      var property = (w.property || "").split(":").pop();
      if (w.element && w.value && (property === "loopDataInputRef" || property === "loopDataOutputRef")) {
        w.element[property] = reference(w.value);
      }
    });
  }

  // --- writing ---------------------------------------------------------------------------------
  function write(element, props) {
    var clean = {};
    Object.keys(props).forEach(function (key) { clean[key] = props[key] === "" ? undefined : props[key]; });
    modeling.updateProperties(element, clean);
  }

  function writeProcess(element, props) {
    var process = processOf(element);
    if (!process) { return; }
    var target = registry.filter(function (e) { return bo(e) && (bo(e) === process || bo(e).processRef === process); })[0];
    if (target && bo(target) === process) { write(target, props); return; }
    if (target) { modeling.updateModdleProperties(target, process, props); }
  }

  function writeParams(element, values) {
    var obj = bo(element);
    var ext = moddle.create("bpmn:ExtensionElements");
    var keep = obj.extensionElements ? (obj.extensionElements.values || []).filter(function (v) { return v.$type !== "mt:Param"; }) : [];
    ext.values = keep.concat(Object.keys(values).filter(function (name) { return values[name] !== ""; }).map(function (name) {
      return moddle.create("mt:Param", { name: name, value: values[name] });
    }));
    ext.values.forEach(function (v) { v.$parent = ext; });
    modeling.updateProperties(element, { extensionElements: ext.values.length ? ext : undefined });
  }

  function writeTimer(element, kind, value) {
    var definition = timerDefinition(element);
    var props = { timeDuration: undefined, timeCycle: undefined, timeDate: undefined };
    props[kind] = moddle.create("bpmn:FormalExpression", { body: value });
    modeling.updateModdleProperties(element, definition, props);
  }

  function uniqueId(base) {
    var id = base, n = 1;
    while (moddle.ids && moddle.ids.assigned(id)) { n += 1; id = base + "_" + n; }
    return id;
  }

  function writeCountersign(element, policy, signers, signer) {
    var obj = bo(element);
    if (!policy) {
      write(element, { loopCharacteristics: undefined, "mt:countersign": undefined });
      return;
    }
    var loop = obj.loopCharacteristics && obj.loopCharacteristics.$instanceOf("bpmn:MultiInstanceLoopCharacteristics") ?
      obj.loopCharacteristics : moddle.create("bpmn:MultiInstanceLoopCharacteristics");
    loop.isSequential = policy === "sequential";
    var collection = signers || "signers";
    if (!camunda(loop, "collection")) {
      loop.loopDataInputRef = reference(collection);
      var item = signer || (loop.inputDataItem && loop.inputDataItem.id) || uniqueId("signer");
      if (!loop.inputDataItem || loop.inputDataItem.id !== item) {
        loop.inputDataItem = moddle.create("bpmn:DataInput", { id: uniqueId(item), name: item });
        loop.inputDataItem.$parent = loop;
      }
    }
    loop.$parent = obj;
    var assignee = mt(obj, "assignee") || (loop.inputDataItem ? loop.inputDataItem.id : camunda(loop, "elementVariable"));
    write(element, { loopCharacteristics: loop, "mt:countersign": policy, "mt:assignee": assignee });
  }

  // --- the panel ---------------------------------------------------------------------------------
  function node(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { el.textContent = attrs[key]; } else if (key === "className") { el.className = attrs[key]; } else { el.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { el.appendChild(child); } });
    return el;
  }

  var fieldCount = 0;

  function field(label, control, help, error) {
    var id = "prop-" + (++fieldCount);
    control.id = id;
    var wrap = node("div", { className: "mb-2" }, [node("label", { className: "form-label small mb-1", "for": id, text: label }), control]);
    if (help) { wrap.appendChild(node("div", { className: "form-text", text: help })); }
    var feedback = node("div", { className: "invalid-feedback d-block", text: error || "" });
    feedback.hidden = !error;
    wrap.appendChild(feedback);
    control.feedback = feedback;
    return wrap;
  }

  function input(value, onChange, attrs) {
    var el = node("input", Object.assign({ className: "form-control form-control-sm", type: "text" }, attrs || {}));
    el.value = value || "";
    el.addEventListener("change", function () { onChange(el.value.trim(), el); });
    return el;
  }

  function select(value, choices, empty, onChange, attrs) {
    var el = node("select", Object.assign({ className: "form-select form-select-sm" }, attrs || {}));
    if (empty !== null) { el.appendChild(node("option", { value: "", text: empty })); }
    var known = false;
    choices.forEach(function (choice) {
      var opt = node("option", { value: choice[0], text: choice[1] });
      if (choice[0] === value) { opt.selected = true; known = true; }
      el.appendChild(opt);
    });
    if (value && !known) {
      var unknown = node("option", { value: value, text: value + " ?" });
      unknown.selected = true;
      el.appendChild(unknown);
    }
    el.addEventListener("change", function () { onChange(el.value, el); });
    return el;
  }

  function checkbox(label, checked, onChange, help) {
    var id = "prop-" + (++fieldCount);
    var box = node("input", { className: "form-check-input", type: "checkbox", id: id });
    box.checked = !!checked;
    box.addEventListener("change", function () { onChange(box.checked); });
    var wrap = node("div", { className: "form-check mb-2" }, [box, node("label", { className: "form-check-label small", "for": id, text: label })]);
    if (help) { wrap.appendChild(node("div", { className: "form-text", text: help })); }
    return wrap;
  }

  function heading(text) { return node("h3", { className: "h6 mt-3 mb-2 border-bottom pb-1", text: text }); }

  var FORM_CHOICES = options.forms.map(function (f) { return [f.name, f.title + " (" + f.name + ")"]; });
  var ROLE_CHOICES = options.roles.map(function (r) { return [r.code, r.name + " (" + r.code + ")"]; });
  var DECISION_CHOICES = options.decisions.map(function (d) { return [d.key, d.name + " (" + d.key + ")"]; });
  var OPERATION_CHOICES = options.operations.map(function (o) { return [o.name, o.description ? o.name + " — " + o.description : o.name]; });

  function renderProcess(element, parts) {
    var process = processOf(element);
    if (!process) { return; }
    parts.push(heading(t("process")));
    parts.push(field(t("id"), node("input", { className: "form-control form-control-sm", value: process.id, readonly: "readonly" })));
    parts.push(field(t("processName"), input(process.name, function (v) { writeProcess(element, { name: v || undefined }); })));
    parts.push(checkbox(t("executable"), process.isExecutable !== false, function (on) { writeProcess(element, { isExecutable: on }); }, t("executableHelp")));
    parts.push(checkbox(t("skipApproved"), mt(process, "skipApproved") === "true", function (on) { writeProcess(element, { "mt:skipApproved": on ? "true" : undefined }); }));
  }

  function renderUserTask(element, obj, parts) {
    parts.push(field(t("form"), select(mt(obj, "form") || camunda(obj, "formKey") || "", FORM_CHOICES, t("noForm"), function (v) { write(element, { "mt:form": v }); })));
    parts.push(field(t("role"), select(mt(obj, "role") || camunda(obj, "candidateGroups") || "", ROLE_CHOICES, t("noRole"), function (v) { write(element, { "mt:role": v }); })));
    parts.push(field(t("assignee"), input(mt(obj, "assignee"), function (v) { write(element, { "mt:assignee": v }); }), t("assigneeHelp")));
    parts.push(field(t("due"), input(mt(obj, "due") || camunda(obj, "dueDate"), function (v, el) {
      if (v && !isIsoTimer("timeDuration", v) && !isIsoTimer("timeDate", v)) { showError(el, t("timerInvalid")); return; }
      showError(el, ""); write(element, { "mt:due": v });
    }), t("dueHelp")));
    parts.push(checkbox(t("skipApproved"), mt(obj, "skipIfApproved") === "true", function (on) { write(element, { "mt:skipIfApproved": on ? "true" : undefined }); }));
    renderCountersign(element, obj, parts);
  }

  var pendingPolicy = {}; // a chosen "n of m" / share policy waiting for its number

  function renderCountersign(element, obj, parts) {
    parts.push(heading(t("countersign")));
    var value = mt(obj, "countersign");
    var kind = pendingPolicy[obj.id] || (/^\d+$/.test(value) ? "quorum" : /%$/.test(value) ? "share" : value);
    var loop = obj.loopCharacteristics;
    var signers = loop ? ((loop.loopDataInputRef && loop.loopDataInputRef.id) || camunda(loop, "collection") || "") : "";
    var signer = loop ? ((loop.inputDataItem && loop.inputDataItem.id) || camunda(loop, "elementVariable") || "") : "";
    var count = input(kind === "quorum" || kind === "share" ? value : "", function () { apply(); }, { placeholder: "2 / 60%" });
    var signersInput = input(signers, function () { apply(); }, { placeholder: "signers" });
    var signerInput = input(signer, function () { apply(); }, { placeholder: "signer" });
    var policy = select(kind, [["all", t("csAll")], ["veto", t("csVeto")], ["any", t("csAny")], ["sequential", t("csSequential")],
      ["quorum", t("csQuorum")], ["share", t("csShare")]], t("noCountersign"), function () { apply(); });
    function apply() {
      var chosen = policy.value, stored = chosen;
      if (chosen === "quorum" || chosen === "share") {
        var n = count.value.trim();
        var ok = chosen === "quorum" ? /^[1-9]\d*$/.test(n) : /^(100|[1-9]\d?)%$/.test(n);
        if (!ok) {
          if (pendingPolicy[obj.id] !== chosen) { pendingPolicy[obj.id] = chosen; render(element); return; }
          showError(count, t("invalidNumber"));
          return;
        }
        showError(count, "");
        stored = n;
      }
      delete pendingPolicy[obj.id];
      writeCountersign(element, stored, signersInput.value.trim(), signerInput.value.trim());
      render(element);
    }
    parts.push(field(t("countersignPolicy"), policy));
    if (kind) {
      if (kind === "quorum" || kind === "share") { parts.push(field(t("csCount"), count)); }
      parts.push(field(t("signers"), signersInput, t("signersHelp")));
      parts.push(field(t("signer"), signerInput));
      parts.push(field(t("resultVariable"), input(mt(obj, "resultVariable"), function (v) { write(element, { "mt:resultVariable": v }); }, { placeholder: obj.id + "_outcome" })));
    }
  }

  function renderServiceTask(element, obj, parts) {
    var name = mt(obj, "operation");
    var operation = options.operations.filter(function (o) { return o.name === name; })[0];
    parts.push(field(t("operation"), select(name, OPERATION_CHOICES, t("noOperation"), function (v) { write(element, { "mt:operation": v }); render(element); })));
    var values = {};
    params(obj).forEach(function (p) { values[p.name] = p.value || ""; });
    var names = (operation ? operation.params.map(function (p) { return p.name; }) : []);
    Object.keys(values).forEach(function (n) { if (names.indexOf(n) < 0) { names.push(n); } });
    if (names.length) {
      parts.push(heading(t("parameters")));
      names.forEach(function (paramName) {
        var spec = operation ? operation.params.filter(function (p) { return p.name === paramName; })[0] : null;
        var label = paramName + (spec && spec.required ? " (" + t("required") + ")" : "");
        parts.push(field(label, input(values[paramName], function (v) { values[paramName] = v; writeParams(element, values); }, { "data-param": paramName }),
          spec && spec.description ? spec.description : null));
      });
      parts.push(node("div", { className: "form-text mb-2", text: t("paramHelp") }));
    }
    parts.push(field(t("resultVariable"), input(mt(obj, "resultVariable"), function (v) { write(element, { "mt:resultVariable": v }); })));
  }

  function renderTimer(element, obj, parts) {
    var definition = timerDefinition(element);
    if (!definition) { return; }
    parts.push(heading(t("timer")));
    var kind = ["timeDuration", "timeCycle", "timeDate"].filter(function (k) { return definition[k]; })[0] || "timeDuration";
    var value = definition[kind] ? definition[kind].body || "" : "";
    var valueInput = input(value, function (v, el) { save(el); }, { placeholder: "PT2H" });
    var kindSelect = select(kind, [["timeDuration", t("timeDuration")], ["timeCycle", t("timeCycle")], ["timeDate", t("timeDate")]], null,
      function () { save(valueInput); });
    function save(el) {
      var v = valueInput.value.trim();
      if (!v || !isIsoTimer(kindSelect.value, v)) { showError(el === kindSelect ? valueInput : el, t("timerInvalid")); return; }
      showError(valueInput, "");
      writeTimer(element, kindSelect.value, v);
    }
    parts.push(field(t("timerType"), kindSelect));
    parts.push(field(t("timerValue"), valueInput, t("timerHelp"), value && !isIsoTimer(kind, value) ? t("timerInvalid") : ""));
    if (obj.$instanceOf("bpmn:BoundaryEvent")) {
      parts.push(field(t("timeoutAction"), select(mt(obj, "timeoutAction"), [["remind", t("remind")], ["escalate", t("escalate")],
        ["approve", t("approve")], ["reject", t("reject")]], t("noTimeout"), function (v) { write(element, { "mt:timeoutAction": v }); })));
    }
  }

  function showError(el, message) {
    if (!el || !el.feedback) { return; }
    el.classList.toggle("is-invalid", !!message);
    el.feedback.textContent = message;
    el.feedback.hidden = !message;
  }

  function render(element) {
    current = element;
    fieldCount = 0;
    var parts = [];
    var obj = element ? bo(element) : null;
    if (!element || obj.$instanceOf("bpmn:Process") || obj.$instanceOf("bpmn:Collaboration") || obj.$instanceOf("bpmn:Participant")) {
      renderProcess(element || canvas.getRootElement(), parts);
    } else {
      parts.push(heading(t("element") + " · " + element.type.replace("bpmn:", "")));
      parts.push(field(t("id"), node("input", { className: "form-control form-control-sm", value: obj.id, readonly: "readonly" })));
      parts.push(field(t("name"), input(obj.name, function (v) { write(element, { name: v || undefined }); }, { "data-prop": "name" })));
      if (obj.$instanceOf("bpmn:Lane")) {
        parts.push(field(t("laneRole"), select(mt(obj, "role"), ROLE_CHOICES, t("noLaneRole"), function (v) { write(element, { "mt:role": v }); }), t("laneRoleHelp")));
      } else if (obj.$instanceOf("bpmn:UserTask")) {
        renderUserTask(element, obj, parts);
      } else if (obj.$instanceOf("bpmn:ServiceTask") || obj.$instanceOf("bpmn:SendTask")) {
        renderServiceTask(element, obj, parts);
      } else if (obj.$instanceOf("bpmn:BusinessRuleTask")) {
        parts.push(field(t("decision"), select(mt(obj, "decision") || camunda(obj, "decisionRef") || "", DECISION_CHOICES, t("noDecision"), function (v) { write(element, { "mt:decision": v }); })));
        parts.push(field(t("resultVariable"), input(mt(obj, "resultVariable"), function (v) { write(element, { "mt:resultVariable": v }); })));
      } else if (obj.$instanceOf("bpmn:StartEvent") && !timerDefinition(element)) {
        parts.push(field(t("form"), select(mt(obj, "form") || camunda(obj, "formKey") || "", FORM_CHOICES, t("noForm"), function (v) { write(element, { "mt:form": v }); })));
        parts.push(field(t("role"), select(mt(obj, "role"), ROLE_CHOICES, t("noLaneRole"), function (v) { write(element, { "mt:role": v }); })));
      } else if (obj.$instanceOf("bpmn:SequenceFlow")) {
        var condition = obj.conditionExpression ? obj.conditionExpression.body || "" : "";
        parts.push(field(t("condition"), input(condition, function (v) {
          write(element, { conditionExpression: v ? moddle.create("bpmn:FormalExpression", { body: v }) : undefined });
        }), t("conditionHelp")));
      }
      if (obj.$instanceOf("bpmn:Event") && timerDefinition(element)) { renderTimer(element, obj, parts); }
      if (parts.length === 3 && !obj.$instanceOf("bpmn:Lane")) { parts.push(node("p", { className: "text-secondary small mb-0", text: t("nothing") })); }
    }
    panel.innerHTML = "";
    parts.forEach(function (p) { panel.appendChild(p); });
    document.getElementById("insert-step").disabled = !canInsertAfter(element);
  }

  // --- inserting a step ----------------------------------------------------------------------
  function canInsertAfter(element) {
    if (!element) { return false; }
    if (element.type === "bpmn:SequenceFlow") { return true; }
    var obj = bo(element);
    return obj.$instanceOf("bpmn:FlowNode") && !obj.$instanceOf("bpmn:EndEvent") && !obj.$instanceOf("bpmn:BoundaryEvent") &&
      (element.outgoing || []).filter(function (c) { return c.type === "bpmn:SequenceFlow"; }).length <= 1;
  }

  function insertAfter(element) {
    var flow = null, source = element;
    if (element.type === "bpmn:SequenceFlow") { flow = element; source = element.source; } else {
      flow = (element.outgoing || []).filter(function (c) { return c.type === "bpmn:SequenceFlow"; })[0] || null;
    }
    var start = source.x + source.width + 10;
    var elements = registry.getAll().filter(function (e) { return e !== canvas.getRootElement(); });
    var space = modeler.get("spaceTool").calculateAdjustments(elements, "x", 150, start);
    modeler.get("spaceTool").makeSpace(space.movingShapes, space.resizingShapes, { x: 150, y: 0 }, "e", start);
    var shape = modeler.get("elementFactory").createShape({ type: "bpmn:UserTask" });
    var parent = source.parent && source.parent.type === "bpmn:Lane" ? source.parent.parent : source.parent;
    shape = modeling.createShape(shape, { x: source.x + source.width + 90, y: source.y + source.height / 2 }, parent);
    modeling.updateLabel(shape, t("newStep"));
    if (flow) {
      var target = flow.target;
      modeling.reconnectEnd(flow, shape, { x: shape.x, y: shape.y + shape.height / 2 });
      modeling.layoutConnection(flow);
      modeling.connect(shape, target);
    } else {
      modeling.connect(source, shape);
    }
    selection.select(shape);
    return shape;
  }

  // --- validation report on the diagram ------------------------------------------------------
  function showIssues(issues) {
    registry.getAll().forEach(function (e) { canvas.removeMarker(e, "studio-error"); canvas.removeMarker(e, "studio-warning"); });
    overlays.remove({ type: "studio-issue" });
    var list = document.getElementById("report");
    list.innerHTML = "";
    var errors = 0, warnings = 0, perElement = {};
    issues.forEach(function (issue) {
      if (issue.level === "error") { errors += 1; } else { warnings += 1; }
      var item = node("li", { className: "issue issue-" + issue.level, "data-element": issue.element_id || "" });
      item.appendChild(node("i", { className: "bi " + (issue.level === "error" ? "bi-x-circle text-danger" : "bi-exclamation-triangle text-warning-emphasis") }));
      item.appendChild(document.createTextNode(" "));
      if (issue.element_id) {
        item.appendChild(node("button", { type: "button", className: "btn btn-link btn-sm p-0 align-baseline issue-element", text: issue.element_name || issue.element_id }));
        item.appendChild(document.createTextNode(": "));
        var entry = perElement[issue.element_id] = perElement[issue.element_id] || { errors: 0, warnings: 0 };
        entry[issue.level === "error" ? "errors" : "warnings"] += 1;
      }
      item.appendChild(document.createTextNode(issue.message));
      list.appendChild(item);
    });
    if (!issues.length) {
      list.appendChild(node("li", { className: "text-success" }, [node("i", { className: "bi bi-check-circle" }), document.createTextNode(" " + t("noProblems"))]));
    }
    Object.keys(perElement).forEach(function (id) {
      var element = registry.get(id);
      if (!element) { return; }
      var entry = perElement[id];
      canvas.addMarker(element, entry.errors ? "studio-error" : "studio-warning");
      overlays.add(element, "studio-issue", {
        position: { top: -10, right: 10 },
        html: node("span", { className: "studio-badge " + (entry.errors ? "studio-badge-error" : "studio-badge-warning"),
          title: issues.filter(function (i) { return i.element_id === id; }).map(function (i) { return i.message; }).join("\n"),
          text: String(entry.errors + entry.warnings) })
      });
    });
    document.getElementById("report-summary").textContent = t("problems", { e: errors, w: warnings });
    root.dataset.errors = String(errors);
  }

  document.getElementById("report").addEventListener("click", function (event) {
    var item = event.target.closest("li[data-element]");
    var element = item && item.dataset.element ? registry.get(item.dataset.element) : null;
    if (element) { selection.select(element); canvas.scrollToElement(element); }
  });

  // --- server calls ------------------------------------------------------------------------------
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return { error: response.statusText }; })
        .then(function (data) { return { ok: response.ok, data: data }; });
    });
  }

  function currentXml() { return modeler.saveXML({ format: true }).then(function (r) { return r.xml; }); }

  document.getElementById("validate-button").addEventListener("click", function () {
    root.dataset.validated = "0";
    currentXml().then(function (xml) { return post(root.dataset.validateUrl, { xml: xml }); }).then(function (r) {
      showIssues(r.ok ? r.data.issues : [{ level: "error", message: t("failed", { error: r.data.error || "" }) }]);
      root.dataset.validated = "1";
    });
  });

  document.getElementById("save-button").addEventListener("click", function () {
    var button = this;
    button.disabled = true;
    currentXml().then(function (xml) { return post(root.dataset.saveUrl, { xml: xml }); }).then(function (r) {
      if (r.ok) { window.location.assign(r.data.url); return; }
      button.disabled = false;
      showIssues(r.data.issues && r.data.issues.length ? r.data.issues : [{ level: "error", message: r.data.error || t("failed", { error: "" }) }]);
    });
  });

  document.getElementById("export-current").addEventListener("click", function () {
    currentXml().then(function (xml) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([xml], { type: "application/xml" }));
      link.download = root.dataset.filename;
      document.body.appendChild(link);
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
    });
  });

  document.getElementById("insert-step").addEventListener("click", function () {
    var element = selection.get()[0];
    if (!canInsertAfter(element)) { return; }
    insertAfter(element);
  });

  eventBus.on("selection.changed", function (event) { render(event.newSelection[0] || null); });
  eventBus.on("elements.changed", function (event) {
    if (panel.contains(document.activeElement) || !current) { return; }
    if (event.elements.indexOf(current) >= 0) { render(current); }
  });
  modeler.get("commandStack") && eventBus.on("commandStack.changed", function () { root.dataset.dirty = "1"; });

  // Fit the diagram into the canvas, clear of the palette on its left.
  function fitBesidePalette() {
    canvas.zoom("fit-viewport", "auto");
    var box = canvas.viewbox(), inner = box.inner, outer = box.outer;
    if (!inner || !inner.width || !inner.height) { return; }
    var left = outer.width > 500 ? 120 : 60;
    var scale = Math.min((outer.width - left - 20) / inner.width, (outer.height - 40) / inner.height, 1);
    if (scale <= 0) { return; }
    canvas.viewbox({ x: inner.x - left / scale, y: inner.y - 20 / scale, width: outer.width / scale, height: outer.height / scale });
  }

  fetch(root.dataset.xmlUrl, { credentials: "same-origin" })
    .then(function (response) { return response.text(); })
    .then(function (xml) { return modeler.importXML(xml); })
    .then(function (result) {
      restoreReferences(result.warnings);
      fitBesidePalette();
      render(null);
      showIssues(readJson("studio-issues", []));
      root.dataset.dirty = "0";
      root.dataset.ready = "1";
    })
    .catch(function (error) {
      panel.textContent = t("notLoaded", { error: error.message });
      root.dataset.ready = "error";
    });
})();
