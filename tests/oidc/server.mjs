// A real OpenID Connect provider (npm oidc-provider) for aiod-kg's token tests, on loopback.
//
//   node server.mjs <port> <config.json>
//
// config.json: {"keys": <private JWKS: the first key signs>, "audience": "...",
//               "clients": {"<client_id>": {"secret": "...", "name": "...", "roles": [...],
//                                            "groups": [...]}}}
// Clients get JWT access tokens by the client-credentials grant (sub = client id) carrying
// Keycloak-style claims: realm_access.roles, groups, preferred_username. Key rotation is a
// restart with another key set. Prints "READY <issuer>" when it listens.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const [port, configPath] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const issuer = `http://127.0.0.1:${port}`;
const users = config.clients;

const provider = new Provider(issuer, {
  clients: Object.entries(users).map(([id, user]) => ({
    client_id: id,
    client_secret: user.secret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: 'api',
  })),
  jwks: config.keys,
  scopes: ['openid', 'api'],
  features: {
    devInteractions: { enabled: false },
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
    const user = users[token.clientId] || {};
    return {
      preferred_username: user.name || token.clientId,
      realm_access: { roles: user.roles || [] },
      groups: user.groups || [],
    };
  },
});
provider.proxy = false;

const server = provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`READY ${issuer}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
