// The OpenID provider the test suite signs in through: panva/oidc-provider (an OpenID
// Certified implementation) configured from the environment by tests/support/identity.py.
//
//   OIDC_PORT      port on 127.0.0.1
//   OIDC_ISSUER    the issuer URL (http://127.0.0.1:PORT)
//   OIDC_CLIENTS   JSON array of client metadata (client_id, client_secret, redirect_uris, ...)
//   OIDC_ACCOUNTS  JSON object: account id -> {email, email_verified, name, groups}
//   OIDC_JWKS      JSON {keys: [...]}: private signing keys, the first one signs
//   OIDC_RESOURCE  the API resource indicator client-credentials tokens may be issued for
//                  (comma-separated for several)
//   OIDC_CLOCK_OFFSET_S  seconds this provider's clock is off by (a drifted clock issues
//                        tokens that are already expired)
//
// Sign-in uses the library's own development login form (any password), and consent is
// granted on first use, so a test drives a real authorization-code flow without clicks the
// product does not own.
import Provider, { errors } from 'oidc-provider';

const env = (name, fallback) => process.env[name] ?? fallback;
const offset = Number(env('OIDC_CLOCK_OFFSET_S', '0')) * 1000;
if (offset) {
  const realNow = Date.now;
  Date.now = () => realNow() + offset;
}

const accounts = JSON.parse(env('OIDC_ACCOUNTS', '{}'));
const resources = env('OIDC_RESOURCE', '').split(',').filter(Boolean);

const configuration = {
  clients: JSON.parse(env('OIDC_CLIENTS', '[]')),
  jwks: JSON.parse(env('OIDC_JWKS')),
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups', 'api'],
  // ID tokens carry the claims of the scopes asked for, as most enterprise providers do.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client, oneOf) => oneOf ?? undefined,
      useGrantedResource: () => false,
      getResourceServerInfo: (ctx, resourceIndicator) => {
        if (!resources.includes(resourceIndicator)) throw new errors.InvalidTarget();
        return { scope: 'api', audience: resourceIndicator, accessTokenFormat: 'jwt',
                 accessTokenTTL: 600, jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
  ttl: { IdToken: 600, AccessToken: 600, AuthorizationCode: 120, Session: 3600,
         Interaction: 3600, Grant: 3600, ClientCredentials: 600 },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: account.email, email_verified: account.email_verified ?? true,
                 name: account.name ?? id, groups: account.groups ?? [] };
      },
    };
  },
  async loadExistingGrant(ctx) {
    const { provider, client, session, result } = ctx.oidc;
    const grantId = result?.consent?.grantId || session.grantIdFor(client.clientId);
    if (grantId) return provider.Grant.find(grantId);
    const grant = new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
};

const provider = new Provider(env('OIDC_ISSUER'), configuration);
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.listen(Number(env('OIDC_PORT')), '127.0.0.1', () => {
  console.log(`ready ${env('OIDC_ISSUER')}`);
});
