// The asset page's suggested terms (kg/enrichment): shown to whoever may change the asset
// (GET /suggestions/{id} says can_decide); Accept adds the term to the asset through the
// normal validated write, Reject hides it for good (POST /suggestions/{id}/accept|reject).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const box = $("suggestions-box");
  if (!box) return;
  const identifier = box.dataset.identifier;
  const LABELS = {research_area: "Research area", application_area: "Application area", keyword: "Keyword"};
  function say(text, bad) {
    const s = $("suggested-status"); s.textContent = text; s.classList.toggle("bad", !!bad);
  }
  function words(term) { return term.replace(/([a-z])([A-Z])/g, "$1 $2"); }
  async function decide(item, verb, row, buttons) {
    const session = window.aiodkgSession;
    buttons.forEach((b) => { b.disabled = true; });
    const query = "?field=" + encodeURIComponent(item.field) + "&term=" + encodeURIComponent(item.term);
    const {response, body} = await session.call("POST", "/suggestions/" + encodeURIComponent(identifier) + "/" + verb + query);
    if (!response.ok) {
      buttons.forEach((b) => { b.disabled = false; });
      say("Not done (" + response.status + "): " + session.detail(body, "error") + ".", true);
      return;
    }
    row.remove();
    if (verb === "reject") say("Rejected “" + words(item.term) + "”: it will not be suggested again.");
    else if (body.pending_review) say("Added “" + words(item.term) + "” to a revision that waits for review.");
    else say("Added “" + words(item.term) + "” to " + LABELS[item.field].toLowerCase() + " (reload to see it in the details).");
  }
  async function load() {
    const session = window.aiodkgSession;
    if (!session || !session.token()) { box.hidden = true; return; }
    const {response, body} = await session.call("GET", "/suggestions/" + encodeURIComponent(identifier));
    if (!response.ok || !body.can_decide || !(body.items || []).length) { box.hidden = true; return; }
    const list = $("suggested");
    list.replaceChildren();
    body.items.forEach((item) => {
      const row = document.createElement("li");
      row.className = "suggested-term";
      const label = document.createElement("span");
      label.className = "muted"; label.textContent = LABELS[item.field] + ": ";
      const term = document.createElement("strong");
      term.textContent = words(item.term);
      const score = document.createElement("span");
      score.className = "muted"; score.textContent = " (similarity " + item.score.toFixed(2) + ") ";
      const accept = document.createElement("button");
      accept.type = "button"; accept.textContent = "Accept";
      accept.setAttribute("aria-label", "Accept " + LABELS[item.field].toLowerCase() + " " + words(item.term));
      const reject = document.createElement("button");
      reject.type = "button"; reject.className = "secondary"; reject.textContent = "Reject";
      reject.setAttribute("aria-label", "Reject " + LABELS[item.field].toLowerCase() + " " + words(item.term));
      accept.addEventListener("click", () => decide(item, "accept", row, [accept, reject]));
      reject.addEventListener("click", () => decide(item, "reject", row, [accept, reject]));
      row.append(label, term, score, accept, " ", reject);
      list.append(row);
    });
    box.hidden = false;
  }
  document.addEventListener("aiodkg:session", load);
  document.addEventListener("DOMContentLoaded", load);
})();
