// The signed-in pages: My assets (/my/assets), Bookmarks (/my/bookmarks) and the reviewer
// queue (/review-queue). Everything comes from the REST API with the tab's token
// (session.js); text from the catalog is only ever set as textContent.
"use strict";
(function () {
  const session = window.aiodkgSession;
  const $ = (id) => document.getElementById(id);
  const root = $("account-page");
  if (!root || !session) return;
  const page = root.dataset.page;
  const prefixes = {};
  (root.dataset.prefixes || "").split(",").forEach((pair) => {
    const [prefix, type] = pair.split(":");
    if (prefix) prefixes[prefix] = type;
  });
  const typeOf = (id) => prefixes[String(id).split("_")[0]] || null;
  function say(text, bad) { const s = $("page-status"); s.textContent = text; s.classList.toggle("bad", !!bad); }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    });
    children.forEach((c) => node.append(c));
    return node;
  }
  function label(type) { return (type || "asset").replace(/_/g, " ").replace(/s$/, ""); }
  function statusOf(data) { return ((data && data.aiod_entry) || {}).status || "published"; }
  function assetLink(id, type, name, status) {
    // only public assets have a page a browser opens without the token
    return status === "published" && type ? el("a", {href: "/" + type + "/" + id}, name) : el("strong", {}, name);
  }
  async function nameOf(id) {
    const type = typeOf(id);
    if (!type) return {type: null, name: id, status: null};
    const {response, body} = await session.call("GET", "/" + type + "/" + encodeURIComponent(id));
    if (!response.ok || !body) return {type, name: id, status: null, gone: response.status === 404};
    return {type, name: body.name || id, status: statusOf(body)};
  }

  // ---------------------------------------------------------------- My assets
  async function myAssets() {
    const [mine, done] = await Promise.all([
      session.call("GET", "/user/resources"),
      session.call("GET", "/submissions?mode=completed&limit=1000"),
    ]);
    if (!mine.response.ok) { say("Could not read your assets (" + mine.response.status + "): " + session.detail(mine.body, "error") + ".", true); return; }
    const comments = {};  // asset -> the latest rejection {comment, date}
    (done.response.ok && Array.isArray(done.body) ? done.body : []).forEach((s) => {
      const review = (s.reviews || [])[0];
      if (!review || review.decision !== "rejected") return;
      (s.asset_identifiers || []).forEach((id) => {
        if (!comments[id] || comments[id].identifier < review.identifier) comments[id] = review;
      });
    });
    const groups = {};
    Object.entries(mine.body || {}).forEach(([type, items]) => (items || []).forEach((data) => {
      const status = statusOf(data);
      (groups[status] = groups[status] || []).push({type, data});
    }));
    root.querySelectorAll(".mine-group").forEach((section) => {
      const status = section.dataset.status, items = groups[status] || [];
      const list = $("list-" + status);
      list.replaceChildren();
      $(status + "-count").textContent = "(" + items.length + ")";
      section.querySelector(".empty-note").hidden = items.length > 0;
      items.sort((a, b) => String(a.data.name).localeCompare(String(b.data.name)));
      items.forEach(({type, data}) => {
        const li = el("li", {class: "asset-item", "data-identifier": data.identifier},
          assetLink(data.identifier, type, data.name || data.identifier, status), " ",
          el("span", {class: "badge badge-" + type}, label(type)), " ",
          el("code", {class: "muted"}, data.identifier));
        const review = comments[data.identifier];
        if (status === "rejected" && review) {
          li.append(el("p", {class: "review-comment"}, el("span", {class: "muted"}, "Reviewer's comment: "),
            el("q", {}, review.comment || "(none)")));
        }
        if (status === "draft" || status === "rejected") {
          const button = el("button", {type: "button", class: "secondary small",
            "aria-label": "Submit " + (data.name || data.identifier) + " for review"}, "Submit for review");
          button.addEventListener("click", async () => {
            button.disabled = true;
            const {response, body} = await session.call("POST", "/submissions", {
              headers: {"Content-Type": "application/json"},
              body: JSON.stringify({asset_identifiers: [data.identifier]})});
            if (!response.ok) { button.disabled = false; say("Not submitted (" + response.status + "): " + session.detail(body, "error") + ".", true); return; }
            say("Submitted " + (data.name || data.identifier) + " for review.");
            myAssets();
          });
          li.append(" ", button);
        }
        list.append(li);
      });
    });
    $("mine").hidden = false;
  }

  // ---------------------------------------------------------------- Bookmarks
  async function bookmarks() {
    const {response, body} = await session.call("GET", "/bookmarks");
    if (!response.ok) { say("Could not read your bookmarks (" + response.status + ").", true); return; }
    const list = $("bookmarks");
    list.replaceChildren();
    const items = (Array.isArray(body) ? body : []).slice()
      .sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
    const found = await Promise.all(items.map((b) => nameOf(b.resource_identifier)));
    items.forEach((b, i) => {
      const id = b.resource_identifier, info = found[i];
      const remove = el("button", {type: "button", class: "secondary small",
        "aria-label": "Remove bookmark " + info.name}, "Remove");
      const li = el("li", {class: "asset-item", "data-identifier": id},
        info.gone ? el("span", {class: "muted"}, id + " (no longer readable)") : assetLink(id, info.type, info.name, info.status),
        " ", el("span", {class: "badge badge-" + (info.type || "asset")}, label(info.type)), " ", remove);
      remove.addEventListener("click", async () => {
        remove.disabled = true;
        const done = await session.call("DELETE", "/bookmarks?resource_identifier=" + encodeURIComponent(id));
        if (!done.response.ok) { remove.disabled = false; say("Not removed (" + done.response.status + ").", true); return; }
        li.remove();
        say("Removed the bookmark of " + info.name + ".");
        $("no-bookmarks").hidden = list.children.length > 0;
      });
      list.append(li);
    });
    list.hidden = items.length === 0;
    $("no-bookmarks").hidden = items.length > 0;
  }

  // ---------------------------------------------------------------- Review queue
  async function queue() {
    if (!session.isReviewer()) { $("not-reviewer").hidden = false; return; }
    const {response, body} = await session.call("GET", "/submissions?mode=pending&limit=1000");
    if (!response.ok) { say("Could not read the queue (" + response.status + "): " + session.detail(body, "error") + ".", true); return; }
    const list = $("queue");
    list.replaceChildren();
    const me = session.me() || {};
    const pending = (Array.isArray(body) ? body : []).filter((s) => s.status === "pending")
      .sort((a, b) => a.identifier - b.identifier);
    for (const s of pending) {
      const assets = await Promise.all((s.asset_identifiers || []).map(async (id) => ({id, ...(await nameOf(id))})));
      const names = assets.map((a) => a.name).join(", ");
      const commentId = "comment-" + s.identifier;
      const box = el("textarea", {id: commentId, rows: "2", maxlength: "5000"});
      const accept = el("button", {type: "button", "aria-label": "Accept submission " + s.identifier}, "Accept");
      const reject = el("button", {type: "button", class: "secondary", "aria-label": "Reject submission " + s.identifier}, "Reject");
      const note = el("p", {class: "status", role: "status"});
      const own = s.requestee_identifier === me.subject;
      const li = el("li", {class: "submission", "data-submission": String(s.identifier)},
        el("h2", {}, "Submission " + s.identifier + ": " + names),
        el("p", {class: "muted"}, "From " + s.requestee_identifier + " on " + String(s.request_date || "").slice(0, 10) +
          (s.comment ? " · “" + s.comment + "”" : "")),
        el("ul", {class: "inline"}, ...assets.map((a) => el("li", {}, el("span", {class: "badge badge-" + (a.type || "asset")}, label(a.type)), " ", a.name, " ", el("code", {class: "muted"}, a.id)))),
        el("p", {}, el("label", {for: commentId}, "Comment for submission " + s.identifier), el("br"), box),
        el("p", {class: "actions"}, accept, " ", reject), note);
      if (own) { accept.disabled = reject.disabled = true; note.textContent = "Your own submission: another reviewer decides."; }
      const decide = async (decision) => {
        accept.disabled = reject.disabled = true;
        const done = await session.call("POST", "/reviews", {headers: {"Content-Type": "application/json"},
          body: JSON.stringify({submission_identifier: s.identifier, decision, comment: box.value.trim()})});
        if (!done.response.ok) {
          accept.disabled = reject.disabled = false;
          note.textContent = "Not recorded (" + done.response.status + "): " + session.detail(done.body, "error") + ".";
          note.classList.add("bad");
          return;
        }
        li.classList.add("decided");
        box.disabled = true;
        note.textContent = (decision === "accepted" ? "Accepted: published." : "Rejected: sent back to its owner.");
      };
      accept.addEventListener("click", () => decide("accepted"));
      reject.addEventListener("click", () => decide("rejected"));
      list.append(li);
    }
    list.hidden = pending.length === 0;
    $("queue-empty").hidden = pending.length > 0;
  }

  const pages = {"my-assets": myAssets, "my-bookmarks": bookmarks, "review-queue": queue};
  function load() {
    const signedIn = !!session.token();
    $("needs-signin").hidden = signedIn;
    root.querySelectorAll("#mine, #bookmarks, #queue, #no-bookmarks, #queue-empty, #not-reviewer")
      .forEach((node) => { if (!signedIn) node.hidden = true; });
    if (!signedIn) { say(""); return; }
    (pages[page] || (() => null))().catch((err) => say("Something went wrong: " + err.message, true));
  }
  document.addEventListener("aiodkg:session", load);
  load();
})();
