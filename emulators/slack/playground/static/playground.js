// The playground's few behaviours beyond htmx: keep the conversation scrolled to its newest
// message, open a link button's URL, insert a mention from the picker, clear the composer.
(function () {
  function toBottom() {
    var pane = document.getElementById("pane");
    if (pane) { pane.scrollTop = pane.scrollHeight; }
  }
  document.addEventListener("DOMContentLoaded", toBottom);
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail && event.detail.elt && event.detail.elt.id === "pane") { toBottom(); }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail && event.detail.elt;
    if (form && form.classList && form.classList.contains("composer") && event.detail.successful) {
      form.reset();
    }
  });
  // Slack keeps what a person typed in a modal when the app updates it (same view, same
  // block_id and action_id) and when it answers a submission with errors; so do we.
  var typed = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var form = document.getElementById("modal-form");
    if (!form || !event.detail.target || event.detail.target.id !== "modal") { return; }
    typed = { view: form.getAttribute("data-view-id"), values: {} };
    Array.prototype.forEach.call(form.elements, function (field) {
      if (field.name && field.name.indexOf("::") > 0 && field.type !== "checkbox") {
        typed.values[field.name] = field.value;
      }
    });
  });
  document.addEventListener("htmx:afterSettle", function () {
    var form = document.getElementById("modal-form");
    if (typed && form && form.getAttribute("data-view-id") === typed.view) {
      Object.keys(typed.values).forEach(function (name) {
        var field = form.elements[name];
        if (field && field.value !== undefined) { field.value = typed.values[name]; }
      });
    }
    typed = null;
  });
  // A button with a URL opens it, as in Slack, and the app still hears of the click (htmx).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-url]");
    if (button) { window.open(button.getAttribute("data-url"), "_blank", "noopener"); }
  });
  document.addEventListener("change", function (event) {
    var picker = event.target;
    if (!picker.classList || !picker.classList.contains("mention-picker") || !picker.value) { return; }
    var text = picker.form.elements["text"];
    var before = text.value && !text.value.endsWith(" ") ? text.value + " " : text.value;
    text.value = before + picker.value + " ";
    picker.selectedIndex = 0;
    text.focus();
  });
})();
