// Share page: sign in with a key (kept in sessionStorage; session.js shares it with the header
// and the other pages), drop a file, see the validation
// report field by field, fix it in the text box, save it as a draft, submit it for review.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const TOKEN = "aiodkg.token";
  const MEDIA = {json: "application/json", jsonld: "application/ld+json", turtle: "text/turtle",
    ntriples: "application/n-triples", rdfxml: "application/rdf+xml"};
  const BY_SUFFIX = {json: "json", jsonld: "jsonld", ttl: "turtle", nt: "ntriples", rdf: "rdfxml",
    xml: "rdfxml", owl: "rdfxml"};
  const content = $("content"), typeSelect = $("asset-type"), formatSelect = $("format");
  let fileFormat = null, report = null, checkedText = null, checkedKey = null, saved = null;
  let savedText = null;  // the text last saved: saving it again would make a second asset

  function token() { try { return sessionStorage.getItem(TOKEN); } catch (e) { return null; } }
  function setStatus(el, text, bad) { el.textContent = text; el.classList.toggle("bad", !!bad); }
  // the API calls and error texts of every page (session.js, loaded first)
  const {call, detail} = window.aiodkgSession;

  // ---------------------------------------------------------------- sign in
  function showSignedIn(name) {
    $("signed-out").hidden = !!name; $("signed-in").hidden = !name;
    $("who").textContent = name || "";
    updateSave();
  }
  async function whoami(key) {
    const response = await fetch("/authorization_test",
      {headers: {"Authorization": "Bearer " + key, "Accept": "application/json"}});
    let body = null;
    try { body = await response.json(); } catch (e) { /* */ }
    return {ok: response.ok, status: response.status, body};
  }
  $("signin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = $("token").value.trim();
    if (!key) return;
    setStatus($("signin-status"), "Checking the key …");
    const me = await whoami(key);
    if (!me.ok) {
      setStatus($("signin-status"), "Sign-in failed (" + me.status + "): " + detail(me.body, "the key was not accepted") + ".", true);
      return;
    }
    try { sessionStorage.setItem(TOKEN, key); } catch (err) { /* private mode: kept in memory only */ }
    if (window.aiodkgSession) window.aiodkgSession.remember(key, me.body, null);  // the header
    $("token").value = "";
    setStatus($("signin-status"), "");
    showSignedIn(me.body.name || me.body.subject || "you");
  });
  $("signout").addEventListener("click", () => {
    try { sessionStorage.removeItem(TOKEN); } catch (e) { /* */ }
    if (window.aiodkgSession) { window.aiodkgSession.forget(); window.aiodkgSession.changed(); }
    showSignedIn(null); setStatus($("signin-status"), "Signed out.");
    $("token").focus();
  });
  // signed in or out elsewhere on the page (the header's menu, session.js)
  document.addEventListener("aiodkg:session", (e) => {
    const who = token() ? e.detail : null;
    if (!!who !== !$("signed-in").hidden) showSignedIn(who ? who.name : null);
  });

  // ---------------------------------------------------------------- the file
  function sniff(text) {
    const start = text.replace(/^\uFEFF/, "").trimStart();
    if (start.startsWith("{") || start.startsWith("[")) return /"@context"/.test(start) ? "jsonld" : "json";
    if (start.startsWith("<?xml") || /^<rdf:RDF/i.test(start)) return "rdfxml";
    return "turtle";  // N-Triples is Turtle too
  }
  function guessType(name, text) {
    if (/"conformsTo"\s*:\s*"http:\/\/mlcommons\.org\/croissant/.test(text) || /mlcommons\.org\/croissant/.test(text.slice(0, 4000))) return "datasets";
    const stem = (name || "").toLowerCase();
    for (const option of typeSelect.options) {
      const label = option.textContent.toLowerCase().replace(/ /g, "_");
      if (stem.startsWith(option.value) || stem.startsWith(label)) return option.value;
    }
    return null;
  }
  function currentFormat() {
    return formatSelect.value !== "auto" ? formatSelect.value : (fileFormat || sniff(content.value));
  }
  async function load(file) {
    if (!file) return;
    const text = await file.text();
    content.value = text;
    const suffix = (file.name.split(".").pop() || "").toLowerCase();
    fileFormat = BY_SUFFIX[suffix] || null;
    if (fileFormat === "json" && /"@context"/.test(text.slice(0, 20000))) fileFormat = "jsonld";
    const type = guessType(file.name, text);
    if (type) typeSelect.value = type;
    $("file-name").textContent = file.name + " · " + text.length.toLocaleString() + " characters · " +
      (fileFormat || sniff(text));
    await check();
  }
  $("file").addEventListener("change", (e) => load(e.target.files[0]));
  const drop = $("drop");
  ["dragenter", "dragover"].forEach((name) => drop.addEventListener(name, (e) => {
    e.preventDefault(); drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((name) => drop.addEventListener(name, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    const file = e.dataTransfer && e.dataTransfer.files[0];
    if (file) load(file);
  });
  content.addEventListener("input", updateSave);
  typeSelect.addEventListener("change", updateSave);
  formatSelect.addEventListener("change", updateSave);

  // ---------------------------------------------------------------- the report
  function showInText(field, predicate) {
    const name = (field.split(".").pop() || "").replace(/\[\d+\]$/, "");
    const text = content.value;
    // JSON: the quoted field name; RDF: the predicate (prefixed, or its local name)
    const wanted = ['"' + name + '"', predicate, predicate && predicate.split(":").pop(), name];
    for (const needle of wanted) {
      if (!needle) continue;
      const at = text.indexOf(needle);
      if (at >= 0) { content.focus(); content.setSelectionRange(at, at + needle.length); return; }
    }
  }
  function selectLine(line, column) {
    const lines = content.value.split("\n");
    let at = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) at += lines[i].length + 1;
    at += Math.max(0, (column || 1) - 1);
    content.focus(); content.setSelectionRange(at, Math.min(content.value.length, at + 1));
  }
  function render(data) {
    $("report").hidden = false;
    const summary = $("summary"), table = $("problems"), body = table.tBodies[0];
    body.replaceChildren();
    const problems = data.problems || [];
    const what = data.croissant ? "Croissant dataset"
      : typeSelect.options[typeSelect.selectedIndex].textContent.toLowerCase();
    if (data.valid) {
      summary.textContent = "Valid " + what + ": ready to save as a draft.";
      summary.className = "summary-line ok";
    } else if (data.conflict) {
      summary.textContent = "This resource is already in the catalog as " + data.conflict +
        " (same platform and platform_resource_identifier).";
      summary.className = "summary-line fail";
    } else {
      summary.textContent = (problems.length === 1 ? "1 problem found: fix it" :
        problems.length + " problems found: fix them") + " in the text box and check again.";
      summary.className = "summary-line fail";
    }
    problems.forEach((p) => {
      const tr = body.insertRow();
      const field = tr.insertCell(), message = tr.insertCell(), value = tr.insertCell();
      const code = document.createElement("code");
      code.textContent = p.field || "(file)";
      field.appendChild(code);
      if (p.field || p.line) {
        const button = document.createElement("button");
        button.type = "button"; button.className = "secondary"; button.textContent = "Show";
        button.setAttribute("aria-label", "Show " + (p.field || "the error") + " in the text");
        button.addEventListener("click", () => p.line ? selectLine(p.line, p.column) : showInText(p.field, p.predicate));
        field.appendChild(button);
      }
      message.textContent = p.message + (p.line ? " (line " + p.line + ", column " + p.column + ")" : "");
      value.textContent = p.value === null || p.value === undefined ? "" : JSON.stringify(p.value);
    });
    table.hidden = problems.length === 0;
    $("understood").hidden = !data.record;
    $("record").textContent = data.record ? JSON.stringify(data.record, null, 2) : "";
    if (data.croissant) typeSelect.value = "datasets";
  }
  async function check() {
    const text = content.value;
    if (!text.trim()) { $("report").hidden = false; render({valid: false, problems: [{field: "", message: "The text box is empty: drop or choose a file first."}]}); return null; }
    const fmt = currentFormat(), type = typeSelect.value;
    $("check").disabled = true;
    try {
      const {response, body} = await call("POST", "/ui/validate/" + type,
        {headers: {"Content-Type": MEDIA[fmt]}, body: text});
      if (!response.ok) {
        render({valid: false, problems: [{field: "", message: detail(body, "The check failed (" + response.status + ").")}]});
        return null;
      }
      report = body; checkedText = text; checkedKey = type + "|" + fmt;
      render(body);
      return body;
    } finally {
      $("check").disabled = false;
      updateSave();
    }
  }
  function updateSave() {
    const signedIn = !!token(), text = content.value.trim();
    const fresh = !!report && checkedText === content.value &&
      checkedKey === typeSelect.value + "|" + currentFormat();
    const blocked = fresh && !report.valid;  // checked and not valid: fix it first
    const done = savedText !== null && savedText === content.value;
    $("save").disabled = !(signedIn && text && !blocked && !done);
    $("save-hint").textContent = !signedIn ? "Sign in to save." :
      (!text ? "Drop or choose a file first." : done ? "Saved." :
        (blocked ? "Fix the problems first." :
          (fresh ? "Saves it as a draft only you can see." : "Saving checks the file first.")));
  }
  $("check").addEventListener("click", check);

  // ---------------------------------------------------------------- save and submit
  $("share-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    let current = report;
    if (!(current && checkedText === content.value && checkedKey === typeSelect.value + "|" + currentFormat())) {
      current = await check();
    }
    if (!current || !current.valid) { $("summary").focus(); return; }
    const record = Object.assign({}, current.record);
    record.aiod_entry = Object.assign({}, record.aiod_entry || {}, {status: "draft"});
    $("save").disabled = true;
    const {response, body} = await call("POST", "/" + current.type,
      {headers: {"Content-Type": "application/json"}, body: JSON.stringify(record)});
    $("saved").hidden = false;
    if (!response.ok) {
      setStatus($("saved-text"), "Not saved (" + response.status + "): " + detail(body, "error") + ".", true);
      if (response.status === 422 && Array.isArray(body && body.detail)) render({valid: false, problems: body.detail, record: current.record});
      updateSave();
      return;
    }
    saved = {type: current.type, identifier: body.identifier};
    document.dispatchEvent(new CustomEvent("aiodkg:saved", {detail: saved}));  // share-files.js
    savedText = checkedText;
    setStatus($("saved-text"), "Saved as draft " + body.identifier + ". Only you (and reviewers, once you submit it) can see it.");
    $("review").disabled = false;
    $("saved").scrollIntoView({block: "nearest"});
    updateSave();
  });
  $("review").addEventListener("click", async () => {
    if (!saved) return;
    $("review").disabled = true;
    const {response, body} = await call("POST", "/submissions",
      {headers: {"Content-Type": "application/json"}, body: JSON.stringify({asset_identifiers: [saved.identifier]})});
    if (response.ok) setStatus($("review-status"), "Submitted for review (status: submitted) as submission " + body.submission_identifier + ".");
    else { setStatus($("review-status"), "Not submitted (" + response.status + "): " + detail(body, "error") + ".", true); $("review").disabled = false; }
  });

  // ---------------------------------------------------------------- start
  $("summary").tabIndex = -1;
  const key = token();
  if (key) {
    whoami(key).then((me) => {
      if (me.ok) showSignedIn(me.body.name || me.body.subject || "you");
      else { try { sessionStorage.removeItem(TOKEN); } catch (e) { /* */ } showSignedIn(null); }
    });
  } else { showSignedIn(null); }
})();
