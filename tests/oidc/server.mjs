// A real OpenID Connect provider (npm oidc-provider) for aiod-kg's token tests, on loopback.
//
//   node server.mjs <port> <config.json>
//
// config.json: {"keys": <private JWKS: the first key signs>, "audience": "...",
//               "clients": {"<client_id>": {"secret": "...", "name": "...", "roles": [...],
//                                            "groups": [...]}},
//               "ui_client": {"client_id": "...", "redirect_uris": ["..."]},     (optional)
//               "users": {"<login>": {"name": "...", "roles": [...], "groups": [...]}}}
// Clients get JWT access tokens by the client-credentials grant (sub = client id) carrying
// Keycloak-style claims: realm_access.roles, groups, preferred_username. Key rotation is a
// restart with another key set.
// With "ui_client": a public client (no secret) of the Authorization Code grant with PKCE
// (S256), as the web UI signs in; people sign in on the provider's own login form
// (oidc-provider's devInteractions: a login name from "users", any password), consent is
// implied for that client, and their JWT access tokens (sub = login, audience as above) carry
// the same Keycloak-style claims from "users". Prints "READY <issuer>" when it listens.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const [port, configPath] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const issuer = `http://127.0.0.1:${port}`;
const users = config.clients;
const people = config.users || {};
const ui = config.ui_client || null;

const clients = Object.entries(users).map(([id, user]) => ({
  client_id: id,
  client_secret: user.secret,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  scope: 'api',
}));
if (ui) {
  clients.push({
    client_id: ui.client_id,
    token_endpoint_auth_method: 'none', // public: PKCE is required (oidc-provider's default)
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: ui.redirect_uris,
    scope: 'openid profile api',
  });
}

function claimsOf(subject, person) {
  return {
    preferred_username: person.name || subject,
    realm_access: { roles: person.roles || [] },
    groups: person.groups || [],
  };
}

const provider = new Provider(issuer, {
  clients,
  jwks: config.keys,
  scopes: ['openid', 'profile', 'api'],
  claims: { openid: ['sub'], profile: ['preferred_username'] },
  cookies: { keys: ['aiod-kg-test-oidc-cookie-key'] },
  findAccount: (ctx, id) => (people[id] ? {
    accountId: id,
    claims: () => ({ sub: id, preferred_username: people[id].name || id }),
  } : undefined),
  // the UI's client is first-party: its consent is implied (no consent screen)
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    if (!ui || ctx.oidc.client.clientId !== ui.client_id || !ctx.oidc.session.accountId) {
      return undefined;
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ui.client_id,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile');
    grant.addOIDCClaims(['preferred_username']);
    grant.addResourceScope(config.audience, 'api');
    await grant.save();
    return grant;
  },
  features: {
    devInteractions: { enabled: !!ui },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => config.audience,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: config.audience,
        accessTokenTTL: 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  extraTokenClaims: (ctx, token) => {
    if (token.accountId) return claimsOf(token.accountId, people[token.accountId] || {});
    const user = users[token.clientId] || {};
    return claimsOf(token.clientId, user);
  },
});
provider.proxy = false;

const server = provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`READY ${issuer}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
