// The bpmn-io editors of the studio (bpmn-js, dmn-js) ask a `translate` service for their own texts.
// This module answers from the texts the page carries: data-editor-texts on `element` holds
// {English text: text in the UI's language}, from our translation catalog.
window.medtechTranslateModule = function (element) {
  "use strict";
  var texts = JSON.parse((element && element.dataset.editorTexts) || "{}");
  return {
    translate: ["value", function (template, replacements) {
      return (texts[template] || template).replace(/{([^}]+)}/g, function (match, name) {
        return replacements && Object.prototype.hasOwnProperty.call(replacements, name) ? replacements[name] : match;
      });
    }]
  };
};
