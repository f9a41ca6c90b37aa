// Sign-in (/signin) and its redirect target (/signin/callback): OpenID Connect Authorization
// Code flow with PKCE (S256) done by the browser as a public client -- the server never talks
// to the provider while answering -- or an API key pasted in (the fallback). state, nonce
// and the issuer are checked; the access token is kept in sessionStorage (session.js).
"use strict";
(function () {
  const session = window.aiodkgSession;
  const $ = (id) => document.getElementById(id);
  const PENDING = "aiodkg.oidc";
  const status = $("signin-status");
  function say(text, bad) { status.textContent = text; status.classList.toggle("bad", !!bad); }
  function b64url(bytes) {
    let text = "";
    new Uint8Array(bytes).forEach((b) => { text += String.fromCharCode(b); });
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function random() { return b64url(crypto.getRandomValues(new Uint8Array(32))); }
  function claims(jwt) {
    const part = (jwt || "").split(".")[1] || "";
    const text = atob(part.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((part.length + 3) % 4));
    return JSON.parse(decodeURIComponent(Array.from(text, (c) => "%" + ("00" + c.charCodeAt(0).toString(16)).slice(-2)).join("")));
  }
  const config = $("oidc");  // data-* from the server (api/ui/account.py)
  const params = new URLSearchParams(location.search);

  // ---------------------------------------------------------------- /signin
  async function start() {
    const verifier = random(), state = random(), nonce = random();
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    try {
      sessionStorage.setItem(PENDING, JSON.stringify({verifier, state, nonce,
        next: session.safeNext(params.get("next"), "/my/assets"), at: Date.now()}));
    } catch (e) { say("This browser does not keep session storage: sign in with a key.", true); return; }
    const query = new URLSearchParams({
      response_type: "code", client_id: config.dataset.client,
      redirect_uri: location.origin + config.dataset.callback, scope: "openid profile",
      state, nonce, code_challenge: b64url(digest), code_challenge_method: "S256",
    });
    if (session.signedOut()) query.set("prompt", "login");  // after a sign-out: ask again
    location.assign(config.dataset.authorize + "?" + query.toString());
  }
  const button = $("oidc-signin");
  if (button) button.addEventListener("click", () => { button.disabled = true; start(); });

  const form = $("key-form");
  if (form) form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = $("key").value.trim();
    if (!key) return;
    say("Checking the key …");
    const me = await session.whoami(key);
    if (!me.ok) { say("Sign-in failed (" + me.status + "): " + session.detail(me.body, "the key was not accepted") + ".", true); return; }
    $("key").value = "";
    session.remember(key, me.body, null);
    location.assign(session.safeNext(params.get("next"), "/my/assets"));
  });

  // ---------------------------------------------------------------- /signin/callback
  async function finish() {
    let pending = null;
    try { pending = JSON.parse(sessionStorage.getItem(PENDING) || "null"); sessionStorage.removeItem(PENDING); } catch (e) { /* */ }
    history.replaceState(null, "", location.pathname);  // the code is single-use: out of the URL
    if (params.get("error")) throw new Error("the provider said " + params.get("error") + (params.get("error_description") ? ": " + params.get("error_description") : ""));
    if (!pending || !params.get("state") || params.get("state") !== pending.state) throw new Error("this answer is not for a sign-in started in this tab (state)");
    if (Date.now() - pending.at > 10 * 60 * 1000) throw new Error("the sign-in took too long; start again");
    if (params.get("iss") && params.get("iss") !== config.dataset.issuer) throw new Error("the answer comes from another issuer");
    const response = await fetch(config.dataset.token, {
      method: "POST",
      headers: {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
      body: new URLSearchParams({grant_type: "authorization_code", code: params.get("code") || "",
        redirect_uri: location.origin + config.dataset.callback, client_id: config.dataset.client,
        code_verifier: pending.verifier}).toString(),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok || !body || !body.access_token) throw new Error("the provider refused the code (" + response.status + (body && body.error ? ": " + body.error : "") + ")");
    const id = body.id_token ? claims(body.id_token) : null;
    if (!id || id.nonce !== pending.nonce) throw new Error("the identity token does not carry this sign-in's nonce");
    const audience = Array.isArray(id.aud) ? id.aud : [id.aud];
    if (id.iss !== config.dataset.issuer || audience.indexOf(config.dataset.client) < 0) throw new Error("the identity token is for another issuer or client");
    const me = await session.whoami(body.access_token);
    if (!me.ok) throw new Error("this catalog does not accept the token (" + me.status + "): " + session.detail(me.body, "refused"));
    const expires = Number(body.expires_in) > 0 ? Math.floor(Date.now() / 1000) + Number(body.expires_in) : null;
    session.remember(body.access_token, me.body, expires);
    location.replace(session.safeNext(pending.next, "/my/assets"));
  }
  if ($("callback-page")) {
    if (!config) { say("Sign-in with an identity provider is not configured on this server.", true); return; }
    say("Signing you in …");
    finish().catch((err) => {
      say("Sign-in failed: " + err.message + ".", true);
      $("again").hidden = false;
    });
  }
})();
