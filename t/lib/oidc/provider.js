// t/53-oidc-provider.t: oidc-provider (panva/node-oidc-provider), a real
// OAuth 2 authorization server, as the gateway's login endpoint.
//
//   node provider.js CONFIG.json
//
// CONFIG: { "port": N, "client_credentials_ttl": seconds, "clients": [ { "client_id", "method",
// "secret" (client_secret_jwt), "alg", "public_key" (a PEM file, for
// private_key_jwt), "kid" } ] }.  Listens on 127.0.0.1:port only:
//
//   POST /token                the provider's token endpoint (the
//                              client_credentials grant, opaque tokens)
//   POST /wrong-aud/token      the same endpoint under another path: an
//                              assertion whose aud is this URL is for
//                              another audience, and refused
//   GET  /api/...              a protected resource: the Bearer token is
//                              looked up in the provider; answers with
//                              the client it was issued to, 401 if none
//
// Prints "listening" once the port is open; each refused client
// authentication is printed to stderr with the provider's reason.

import fs from 'node:fs';
import http from 'node:http';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const conf = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${conf.port}`;

const clients = conf.clients.map((c) => {
  const m = {
    client_id: c.client_id,
    token_endpoint_auth_method: c.method,
    token_endpoint_auth_signing_alg: c.alg,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  };
  if (c.secret !== undefined) {
    m.client_secret = c.secret;
  }
  if (c.public_key !== undefined) {
    const jwk = crypto.createPublicKey(fs.readFileSync(c.public_key))
      .export({ format: 'jwk' });
    m.jwks = { keys: [{ ...jwk, kid: c.kid, alg: c.alg, use: 'sig' }] };
  }
  return m;
});

const provider = new Provider(issuer, {
  clients,
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
  },
  ttl: { ClientCredentials: conf.client_credentials_ttl ?? 600 },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
});

for (const ev of ['grant.error', 'server_error']) {
  provider.on(ev, (ctx, err) => {
    console.error(`${ev}: client ${ctx.oidc?.client?.clientId ?? '-'}: `
      + `${err.error ?? err.name}: ${err.error_description ?? ''}`
      + ` (${err.error_detail ?? err.message})`);
  });
}
provider.on('grant.success', (ctx) => {
  console.error(`grant.success: client ${ctx.oidc.client.clientId}`);
});

const callback = provider.callback();

async function api(req, res) {
  const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  const token = m && await provider.ClientCredentials.find(m[1]);
  const body = token
    ? { client_id: token.clientId, path: req.url }
    : { error: 'invalid_token', authorization: m ? 'unknown' : 'none' };
  const json = JSON.stringify(body);
  res.writeHead(token ? 200 : 401, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(json),
  });
  res.end(json);
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/api/')) {
    api(req, res).catch((err) => {
      res.writeHead(500);
      res.end(String(err));
    });
    return;
  }
  if (req.url === '/wrong-aud/token') {
    req.url = '/token';
  }
  callback(req, res);
});

server.listen(conf.port, '127.0.0.1', () => console.log('listening'));

// the test's END block kills it; an orphan ends with its parent's pipe
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
