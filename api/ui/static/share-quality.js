// The share page's quality advice: once share.js saved the draft ("aiodkg:saved"), ask
// GET /quality/assets/{id} (a draft's assessment, for its owner) and list what would improve
// it, before the draft is submitted for review.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const box = $("draft-quality");
  if (!box) return;
  function token() { try { return sessionStorage.getItem("aiodkg.token"); } catch (e) { return null; } }
  document.addEventListener("aiodkg:saved", async (e) => {
    const saved = e.detail || {};
    box.hidden = true;
    const headers = {"Accept": "application/json"};
    const key = token();
    if (key) headers["Authorization"] = "Bearer " + key;
    let body = null;
    try {
      const response = await fetch("/quality/assets/" + encodeURIComponent(saved.identifier), {headers});
      if (!response.ok) return;
      body = await response.json();
    } catch (err) { return; }
    $("draft-rating").textContent = body.rating + " (" + Math.round(body.score * 100) + " %)";
    $("draft-rating").className = "quality quality-" + body.rating;
    const list = $("draft-advice");
    list.replaceChildren();
    (body.advice || []).forEach((text) => {
      const li = document.createElement("li"); li.textContent = text; list.append(li);
    });
    if (!(body.advice || []).length) {
      const li = document.createElement("li"); li.textContent = "Every check is met."; list.append(li);
    }
    box.hidden = false;
  });
})();
