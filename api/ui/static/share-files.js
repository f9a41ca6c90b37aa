// Share page, step 4: attach files to the saved draft. One multipart form POST to
// /{type}/{identifier}/files (streamed to the file store; each file becomes a distribution),
// with upload progress. share.js announces the saved draft with the "aiodkg:saved" event.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("files-form");
  if (!form) return;
  const TOKEN = "aiodkg.token";
  const status = $("upload-status"), progress = $("upload-progress"), list = $("attached");
  let target = null;

  function token() { try { return sessionStorage.getItem(TOKEN); } catch (e) { return null; } }
  function setStatus(text, bad) { status.textContent = text; status.classList.toggle("bad", !!bad); }
  function size(bytes) {
    if (bytes < 1024) return bytes + " B";
    const units = ["KiB", "MiB", "GiB", "TiB"];
    let value = bytes / 1024, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
    return value.toFixed(value < 10 ? 1 : 0) + " " + units[unit];
  }
  function detail(body, fallback) {
    const d = body && body.detail;
    return typeof d === "string" ? d : fallback;
  }
  function show(file) {
    const item = document.createElement("li");
    const name = document.createElement("strong");
    name.textContent = file.name;
    const sha = document.createElement("code");
    sha.textContent = "sha256 " + file.sha256.slice(0, 16) + "…";
    sha.title = file.sha256;
    item.append(name, " · " + size(file.size) + " · ", sha);
    item.dataset.sha256 = file.sha256;
    list.appendChild(item);
  }

  document.addEventListener("aiodkg:saved", (e) => {
    target = e.detail;
    form.hidden = false;
    list.replaceChildren();
    setStatus("");
  });

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("attach");
    if (!target || !input.files.length) { setStatus("Choose one or more files first.", true); return; }
    const data = new FormData();
    let total = 0;
    for (const file of input.files) { data.append("file", file, file.name); total += file.size; }
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/" + encodeURIComponent(target.type) + "/" +
      encodeURIComponent(target.identifier) + "/files");
    xhr.setRequestHeader("Accept", "application/json");
    const key = token();
    if (key) xhr.setRequestHeader("Authorization", "Bearer " + key);
    xhr.upload.addEventListener("progress", (ev) => {
      if (ev.lengthComputable) { progress.max = ev.total; progress.value = ev.loaded; }
    });
    xhr.addEventListener("load", () => {
      progress.hidden = true; $("upload").disabled = false;
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (err) { /* not JSON */ }
      if (xhr.status === 201 && body && Array.isArray(body.files)) {
        body.files.forEach(show);
        setStatus("Attached " + body.files.length + (body.files.length === 1 ? " file" : " files") +
          " (" + size(total) + ") to draft " + target.identifier + ".");
        input.value = "";
      } else {
        setStatus("Not uploaded (" + xhr.status + "): " + detail(body, "error") + ".", true);
      }
    });
    xhr.addEventListener("error", () => {
      progress.hidden = true; $("upload").disabled = false;
      setStatus("The upload was interrupted (network error).", true);
    });
    progress.value = 0; progress.hidden = false; $("upload").disabled = true;
    setStatus("Uploading " + input.files.length + (input.files.length === 1 ? " file" : " files") +
      " (" + size(total) + ") …");
    xhr.send(data);
  });
})();
