// The moderators' page of proposed duplicates (/moderation/duplicates, api/ui/moderation.py):
// GET /duplicates with the tab's token; Confirm / Reject call POST /duplicates/{id}/confirm|reject.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    children.forEach((c) => node.append(c));
    return node;
  }
  function say(text, bad) {
    const s = $("dup-status-line"); s.textContent = text; s.classList.toggle("bad", !!bad);
  }
  function pct(value) { return Math.round(value * 100) + " %"; }
  function evidence(parts) {
    return Object.entries(parts || {}).map(([k, v]) => k === "name_conflict"
      ? "names differ by a variant" : k + " " + pct(v)).join(" · ");
  }
  function record(item, i) {
    const id = item.identifiers[i], name = (item.names || [])[i] || id;
    return el("li", {}, el("a", {href: "/" + item.type + "/" + id}, name), " ",
      el("code", {class: "muted"}, id));
  }
  async function decide(item, verb, row, buttons) {
    const session = window.aiodkgSession;
    buttons.forEach((b) => { b.disabled = true; });
    const {response, body} = await session.call("POST", "/duplicates/" + item.id + "/" + verb);
    if (!response.ok) {
      buttons.forEach((b) => { b.disabled = false; });
      say("Not " + verb + "ed (" + response.status + "): " + session.detail(body, "error") + ".", true);
      return;
    }
    row.classList.add("decided");
    row.querySelector(".decision").textContent = verb === "confirm" ? "Confirmed: the same work." : "Rejected: different works.";
    say((verb === "confirm" ? "Confirmed " : "Rejected ") + "pair " + item.id + ".");
  }
  async function load() {
    const session = window.aiodkgSession, list = $("duplicates");
    list.replaceChildren();
    $("duplicates-empty").hidden = true;
    $("not-moderator").hidden = true;
    const signedIn = !!(session && session.token());
    $("needs-signin").hidden = signedIn;
    if (!signedIn) return;
    const status = $("dup-status").value;
    say("Loading …");
    const {response, body} = await session.call("GET", "/duplicates?status=" + encodeURIComponent(status));
    if (response.status === 403) { $("not-moderator").hidden = false; say(""); return; }
    if (!response.ok) { say("Could not read the proposals (" + response.status + "): " + session.detail(body, "error") + ".", true); return; }
    const items = body.items || [];
    items.forEach((item) => {
      const row = el("li", {class: "duplicate", "data-id": String(item.id)});
      row.append(el("p", {class: "meta"}, el("span", {class: "badge badge-" + item.type}, item.type.replace(/_/g, " ")),
        " score ", el("strong", {}, pct(item.score)), " ", el("span", {class: "muted"}, evidence(item.evidence))));
      row.append(el("ul", {class: "pair"}, record(item, 0), record(item, 1)));
      const decision = el("p", {class: "decision"});
      if (item.status === "proposed") {
        const confirm = el("button", {type: "button", "aria-label": "Confirm pair " + item.id}, "Confirm: same work");
        const reject = el("button", {type: "button", class: "secondary", "aria-label": "Reject pair " + item.id}, "Reject");
        confirm.addEventListener("click", () => decide(item, "confirm", row, [confirm, reject]));
        reject.addEventListener("click", () => decide(item, "reject", row, [confirm, reject]));
        decision.append(confirm, " ", reject);
      } else {
        decision.textContent = item.status + (item.decided_by ? " by " + item.decided_by : "");
      }
      row.append(decision);
      list.append(row);
    });
    $("duplicates-empty").hidden = items.length > 0;
    say(items.length + " pair" + (items.length === 1 ? "" : "s") + ".");
  }
  $("dup-status").addEventListener("change", load);
  document.addEventListener("aiodkg:session", load);
  document.addEventListener("DOMContentLoaded", load);
})();
