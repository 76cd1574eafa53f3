// A real OpenID Provider for callvault's SSO tests: panva's certified `oidc-provider` (MIT).
//
//   node provider.mjs CONFIG.json
//
// CONFIG.json: {"clients": [oidc-provider client metadata...],
//               "accounts": {"<login_hint>": {"amr": [...], "claims": {...}}}}
//
// It listens on 127.0.0.1 on a free port, then prints one JSON line {"issuer": "http://..."}
// so the test knows where it is without racing for a port. Logins complete without a person:
// the interaction route below signs in the account named by the authorization request's
// standard `login_hint` parameter (with that account's `amr`) and grants the requested scopes.
// Everything else (discovery, JWKS, PKCE, the token endpoint, ID token signing) is the
// provider's own code, which is what the tests are for.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const INTERACTION = '/interaction/';

// Fresh signing keys each run: one RSA (RS256) and one EC P-256 (ES256) key.
function signingKeys() {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  return [
    { ...rsa.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
    { ...ec.export({ format: 'jwk' }), kid: 'ec-1', alg: 'ES256', use: 'sig' },
  ];
}

async function findAccount(ctx, id) {
  const account = config.accounts[id];
  if (!account) return undefined;
  return { accountId: id, claims: async () => ({ sub: id, ...account.claims }) };
}

function providerConfig() {
  return {
    clients: config.clients,
    jwks: { keys: signingKeys() },
    findAccount,
    // amr (how the user signed in) in every ID token; and, like Entra ID with a groups
    // claim configured, profile claims and groups in the ID token itself, not only at userinfo.
    claims: { openid: ['sub', 'amr'], profile: ['preferred_username', 'name', 'email', 'groups'] },
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `${INTERACTION}${interaction.uid}` },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      Grant: 600,
      IdToken: 600,
      Interaction: 600,
      Session: 600,
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256'],
    },
  };
}

// The non-interactive login: the account is the request's login_hint; consent is automatic.
async function interact(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    const account = config.accounts[params.login_hint];
    const result = account
      ? { login: { accountId: params.login_hint, amr: account.amr } }
      : { error: 'access_denied', error_description: 'no such test account' };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    return;
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, providerConfig());
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (!req.url.startsWith(INTERACTION)) {
      callback(req, res);
      return;
    }
    interact(provider, req, res).catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
