// Every page: the tab's sign-in (sessionStorage: the token and who it is), the header's account
// menu, the bookmark stars (button.star) and window.aiodkgSession for the other scripts.
// The token is sent as "Authorization: Bearer" (no cookies, so no CSRF).
"use strict";
(function () {
  const TOKEN = "aiodkg.token", ME = "aiodkg.me", SIGNED_OUT = "aiodkg.signed-out";
  const REVIEWER = "review_aiod_resources";
  const $ = (id) => document.getElementById(id);
  function get(key) { try { return sessionStorage.getItem(key); } catch (e) { return null; } }
  function put(key, value) { try { sessionStorage.setItem(key, value); } catch (e) { /* private mode */ } }
  function drop(key) { try { sessionStorage.removeItem(key); } catch (e) { /* */ } }
  function me() { try { return JSON.parse(get(ME) || "null"); } catch (e) { return null; } }
  function token() {
    const found = get(TOKEN), who = me();
    if (found && who && who.expires_at && Date.now() / 1000 > who.expires_at) { forget(); return null; }
    return found;
  }
  function isReviewer(who) {
    who = who || me();
    return !!who && (who.admin || (who.roles || []).indexOf(REVIEWER) >= 0);
  }
  function changed() {
    render();
    document.dispatchEvent(new CustomEvent("aiodkg:session", {detail: me()}));
  }
  function remember(key, who, expiresAt) {
    put(TOKEN, key); drop(SIGNED_OUT);
    put(ME, JSON.stringify({name: who.name || who.subject || "you", subject: who.subject,
      roles: who.roles || [], admin: !!who.admin, expires_at: expiresAt || null}));
    changed();
  }
  // signed out in this tab: the next sign-in asks the provider for a fresh login (prompt=login),
  // so the provider's own session does not sign the same person straight back in
  function forget() { drop(TOKEN); drop(ME); put(SIGNED_OUT, "1"); }
  function detail(body, fallback) {
    if (!body) return fallback;
    const d = body.detail;
    if (typeof d === "string") return d;
    if (Array.isArray(d)) return d.map((p) => (p.field ? p.field + ": " : "") + p.message).join("; ");
    if (d && d.message) return d.message;
    return fallback;
  }
  async function call(method, url, options) {
    options = options || {};
    const headers = Object.assign({"Accept": "application/json"}, options.headers || {});
    const key = options.token || token();
    if (key) headers["Authorization"] = "Bearer " + key;
    const response = await fetch(url, {method, headers, body: options.body});
    let body = null;
    try { body = await response.json(); } catch (e) { /* not JSON */ }
    return {response, body};
  }
  async function whoami(key) {
    const {response, body} = await call("GET", "/authorization_test", {token: key});
    return {ok: response.ok, status: response.status, body};
  }
  function safeNext(value, fallback) {
    // only a path of this site: never another origin ("//host", "/\\host", "https:")
    return typeof value === "string" && /^\/(?![\/\\])[^\s]*$/.test(value) ? value : fallback;
  }

  // ---------------------------------------------------------------- the header
  function render() {
    const who = token() ? me() : null;
    const nav = $("account");
    if (!nav) return;
    $("account-signin").hidden = !!who;
    nav.querySelectorAll("[data-signed-in]").forEach((el) => { el.hidden = !who; });
    nav.querySelectorAll("[data-reviewer]").forEach((el) => { el.hidden = !isReviewer(who); });
    $("account-name").textContent = who ? who.name : "";
    const link = $("account-signin").querySelector("a");
    if (link && location.pathname !== "/signin" && location.pathname.indexOf("/signin/") !== 0) {
      link.href = "/signin?next=" + encodeURIComponent(location.pathname + location.search);
    }
    stars(!!who);
  }
  const signout = $("account-signout");
  if (signout) signout.addEventListener("click", () => {
    forget();
    changed();
    const link = $("account-signin").querySelector("a");
    if (link) link.focus();
  });

  // ---------------------------------------------------------------- bookmark stars
  let marked = null;  // identifiers bookmarked (loaded once per page)
  function paint(button, on) {
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.querySelector(".star-icon").textContent = on ? "★" : "☆";
    button.querySelector(".star-text").textContent = on ? "Bookmarked" : "Bookmark";
  }
  async function stars(signedIn) {
    const buttons = Array.from(document.querySelectorAll("button.star"));
    if (!buttons.length) return;
    if (!signedIn) { buttons.forEach((b) => { b.hidden = true; }); marked = null; return; }
    if (marked === null) {
      const {response, body} = await call("GET", "/bookmarks");
      marked = new Set(response.ok && Array.isArray(body) ? body.map((b) => b.resource_identifier) : []);
    }
    buttons.forEach((b) => { paint(b, marked.has(b.dataset.identifier)); b.hidden = false; });
  }
  document.addEventListener("click", async (e) => {
    const button = e.target instanceof Element ? e.target.closest("button.star") : null;
    if (!button || !marked) return;
    e.preventDefault();
    const id = button.dataset.identifier, on = button.getAttribute("aria-pressed") !== "true";
    button.disabled = true;
    const {response} = await call(on ? "POST" : "DELETE",
      "/bookmarks?resource_identifier=" + encodeURIComponent(id));
    button.disabled = false;
    if (!response.ok) return;
    if (on) marked.add(id); else marked.delete(id);
    paint(button, on);
  });

  const signedOut = () => get(SIGNED_OUT) === "1";
  window.aiodkgSession = {token, me, remember, forget, call, whoami, detail, isReviewer,
    safeNext, changed, signedOut};
  // a key from before this script kept no profile: ask once who it is
  if (get(TOKEN) && !me()) {
    whoami(get(TOKEN)).then((found) => {
      if (found.ok) remember(get(TOKEN), found.body, null); else { forget(); changed(); }
    });
  } else {
    render();
  }
})();
