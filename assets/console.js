// tarcza console: the few lines of our own script. Upload progress (XHR upload events,
// then the import as the server reports it) and the copy button. Everything else is
// plain HTML forms, enhanced by htmx. Handlers are delegated on the document, so they
// work on content htmx swaps in.
(function () {
  "use strict";

  function formatBytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
    if (n < 1073741824) return (n / 1048576).toFixed(1) + " MiB";
    return (n / 1073741824).toFixed(2) + " GiB";
  }

  function copy(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var done = function () { button.textContent = button.getAttribute("data-copied") || "Copied"; };
    var fallback = function () {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      try { if (document.execCommand("copy")) done(); } catch (e) { /* the text stays selected */ }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.textContent).then(done, fallback);
    } else {
      fallback();
    }
  }

  // A page of the console answered that the session has ended: go where it says.
  function followRedirect(location) {
    if (location) { window.location.assign(location); return true; }
    return false;
  }

  function upload(force) {
    var form = document.querySelector("form[data-upload]");
    if (!form) return;
    var file = form.querySelector("input[type=file]").files[0];
    if (!file) { form.reportValidity(); return; }
    var texts = document.getElementById("upload-texts");
    var status = document.getElementById("upload-status");
    var bar = document.getElementById("upload-bytes");
    var bytes = document.getElementById("upload-bytes-text");
    var phase = document.getElementById("upload-phase");
    var server = document.getElementById("upload-server");
    var result = document.getElementById("upload-result");
    var button = form.querySelector("button[type=submit]");
    var registry = encodeURIComponent(form.elements.registry.value);
    var query = new URLSearchParams({
      mode: form.elements.mode.value,
      format: form.elements.format.value,
      encoding: form.elements.encoding.value
    });
    if (force) query.set("force", "true");

    status.hidden = false;
    result.textContent = "";
    server.textContent = "";
    bar.max = file.size || 1;
    bar.value = 0;
    bytes.textContent = "0 B " + texts.getAttribute("data-of") + " " + formatBytes(file.size);
    phase.textContent = texts.getAttribute("data-sending");
    button.disabled = true;

    var finished = false;
    // While the file goes up and the server imports it, show the import the server
    // reports as running (its id, and its counts once the API gives them as it goes).
    var poll = function () {
      fetch("/registries/" + registry + "/progress", { headers: { "HX-Request": "true" } })
        .then(function (r) {
          if (followRedirect(r.headers.get("HX-Redirect"))) return "";
          return r.text();
        })
        .then(function (html) { if (!finished && html) server.innerHTML = html; })
        .catch(function () { /* the next poll tries again */ });
    };
    var timer = window.setInterval(poll, 1000);

    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/registries/" + registry + "/upload?" + query.toString());
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("X-CSRF-Token", form.elements.csrf.value);
    xhr.setRequestHeader("HX-Request", "true");
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) return;
      bar.max = e.total;
      bar.value = e.loaded;
      bytes.textContent = formatBytes(e.loaded) + " " + texts.getAttribute("data-of") + " " + formatBytes(e.total);
    };
    xhr.upload.onload = function () {
      bar.value = bar.max;
      phase.textContent = texts.getAttribute("data-sent");
      poll();
    };
    var end = function () {
      finished = true;
      window.clearInterval(timer);
      button.disabled = false;
      server.textContent = "";
    };
    xhr.onload = function () {
      end();
      if (followRedirect(xhr.getResponseHeader("HX-Redirect"))) return;
      // Server-rendered, escaped HTML of the import's result.
      result.innerHTML = xhr.responseText;
      var heading = result.querySelector("h3");
      if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
    };
    xhr.onerror = function () {
      end();
      var box = document.createElement("div");
      box.className = "alert error";
      box.setAttribute("role", "alert");
      var p = document.createElement("p");
      p.textContent = texts.getAttribute("data-failed");
      box.appendChild(p);
      result.appendChild(box);
    };
    xhr.send(file);
  }

  document.addEventListener("click", function (e) {
    var target = e.target instanceof Element ? e.target : null;
    if (!target) return;
    var copyButton = target.closest("[data-copy]");
    if (copyButton) { copy(copyButton); return; }
    if (target.closest("[data-force]")) { upload(true); }
  });

  document.addEventListener("submit", function (e) {
    var form = e.target instanceof Element ? e.target.closest("form[data-upload]") : null;
    if (!form) return;
    e.preventDefault();
    upload(false);
  });
})();
