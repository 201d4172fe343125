// Live preview of 3CX call-event templates: placeholders filled with sample values as you type.
(function () {
  "use strict";
  var form = document.querySelector(".threecx-form");
  if (!form) return;
  var known = ["customer_phone", "agent_extension", "queue", "call_time", "business_name"];
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function sample() {
    var now = new Date();
    var business = form.querySelector("[name=business_name]");
    return {
      customer_phone: "+966512345678",
      agent_extension: "101",
      queue: "Support",
      call_time: now.getFullYear() + "-" + pad(now.getMonth() + 1) + "-" + pad(now.getDate()) + " " +
        pad(now.getHours()) + ":" + pad(now.getMinutes()),
      business_name: (business && business.value.trim()) || form.getAttribute("data-account-name") || ""
    };
  }
  function render(text, values) {
    return text.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, function (whole, name) {
      return known.indexOf(name) === -1 ? whole : (values[name] || "");
    }).replace(/[ \t]{2,}/g, " ").trim();
  }
  function update() {
    var values = sample();
    form.querySelectorAll("textarea[data-template-preview]").forEach(function (area) {
      var target = form.querySelector('[data-preview-for="' + area.id + '"]');
      if (!target) return;
      var unknown = (area.value.match(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g) || []).filter(function (p) {
        return known.indexOf(p.replace(/[{}\s]/g, "")) === -1;
      });
      target.textContent = area.value.trim() ? "Preview: " + render(area.value, values) : "";
      target.classList.toggle("has-unknown", unknown.length > 0);
      if (unknown.length) target.textContent += "  (unknown: " + unknown.join(", ") + ")";
    });
  }
  form.addEventListener("input", update);
  update();
})();
