// Connection tab: poll the instance's state and QR code so the page follows pairing by itself.
(function () {
  "use strict";
  var root = document.querySelector("[data-connection-poll]");
  if (!root || !window.fetch) return;
  var url = root.getAttribute("data-url");
  var state = root.getAttribute("data-state");
  var qrVersion = root.getAttribute("data-qr-version");
  var interval = state === "pairing" ? 2000 : 5000;

  function countdown(data) {
    var el = document.getElementById("qr-countdown");
    if (!el || data.expires_in === null) return;
    el.textContent = data.expires_in > 0 ? "this one expires in " + data.expires_in + " s" : "a new one is on its way";
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        if (data.state !== state) { window.location.reload(); return; }
        if (String(data.qr_version) !== qrVersion) {
          qrVersion = String(data.qr_version);
          var box = document.getElementById("qr-code");
          if (box) box.innerHTML = data.qr_svg;  // SVG generated server-side by segno
        }
        countdown(data);
      })
      .catch(function () { /* offline for a moment: try again next tick */ })
      .then(function () { window.setTimeout(poll, interval); });
  }
  window.setTimeout(poll, interval);
})();
