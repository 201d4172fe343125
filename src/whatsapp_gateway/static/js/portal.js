// Small progressive enhancements; every page works without JavaScript.
(function () {
  "use strict";

  // Confirm destructive actions with our own dialog: <form data-confirm="Really?">.
  // Without <dialog> support the browser's confirm() is the fallback.
  var dialog = document.getElementById("confirm-dialog");
  var confirmed = new WeakSet();
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (!question || confirmed.has(form)) return;
    event.preventDefault();
    var submitter = event.submitter || null;
    if (!dialog || typeof dialog.showModal !== "function") {
      if (window.confirm(question)) { confirmed.add(form); form.requestSubmit(submitter); }
      return;
    }
    document.getElementById("confirm-dialog-text").textContent = question;
    var ok = dialog.querySelector("[data-testid=confirm-ok]");
    ok.textContent = form.getAttribute("data-confirm-button") || "Confirm";
    dialog.returnValue = "";
    dialog.onclose = function () {
      if (dialog.returnValue === "ok") {
        confirmed.add(form);
        if (submitter) { form.requestSubmit(submitter); } else { form.requestSubmit(); }
        confirmed.delete(form);
      }
    };
    dialog.showModal();
    dialog.querySelector("[data-testid=confirm-cancel]").focus();
  });

  function flash(button, text) {
    var label = button.textContent;
    button.textContent = text;
    setTimeout(function () { button.textContent = label; }, 1500);
  }

  // Copy buttons: <button data-copy="#element-id"> copies an element's text, <button data-copy-text="…"> a value.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy], [data-copy-text]") : null;
    if (!button) return;
    var text = button.getAttribute("data-copy-text");
    if (text === null) {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source) return;
      text = (source.value !== undefined && source.tagName !== "BUTTON" ? source.value : source.textContent).trim();
    }
    if (!navigator.clipboard) { flash(button, "Select and copy"); return; }
    navigator.clipboard.writeText(text).then(function () { flash(button, "Copied"); }, function () { flash(button, "Copy failed"); });
  });

  // A table or code block that scrolls sideways (phones) must be reachable by keyboard: make it focusable.
  function markScrollables() {
    document.querySelectorAll(".table-wrap, pre").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        if (!box.hasAttribute("tabindex")) box.setAttribute("tabindex", "0");
        if (box.classList.contains("table-wrap") && !box.hasAttribute("role")) {
          box.setAttribute("role", "region");
          box.setAttribute("aria-label", "Table, scrolls sideways");
        }
      }
    });
  }
  markScrollables();
  window.addEventListener("resize", markScrollables);
  document.addEventListener("htmx:afterSwap", markScrollables);

  // Cancel buttons inside a <details> (e.g. rename) close it and give focus back to its summary.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-close-details]") : null;
    if (!button) return;
    var details = button.closest("details");
    if (details) { details.removeAttribute("open"); details.querySelector("summary").focus(); }
  });

  // Close the user menu with Escape or a click elsewhere.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    });
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
})();
