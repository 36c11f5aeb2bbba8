/**
 * A local stand-in for https://login.botframework.com/v1/.well-known/openidconfiguration and its
 * JWKS, so tests can mint Bot Framework channel tokens that botbuilder really validates.
 *
 * What botbuilder 4.23 (ParameterizedBotFrameworkAuthentication + JwtTokenExtractor) checks for a
 * channel request, i.e. what a token from sign() must satisfy:
 * - Config: passing ToBotFromChannelOpenIdMetadataUrl / ToBotFromChannelTokenIssuer to
 *   ConfigurationBotFrameworkAuthentication switches it to "parameterized" mode, where every other
 *   endpoint setting (ToChannelFromBotLoginUrl, ToChannelFromBotOAuthScope, CallerId, emulator
 *   metadata URL) is undefined unless also passed.
 * - `iss` must equal ToBotFromChannelTokenIssuer exactly (checked before the signature; a wrong
 *   issuer yields "Unauthorized. No valid identity.").
 * - The header `kid` must name an RSA key (n, e) in the JWKS; alg RS256/RS384/RS512; signature valid.
 * - If that key lists `endorsements`, activity.channelId must be one of them ('msteams').
 * - `exp`/`nbf` are checked by jsonwebtoken with a 300 s clock tolerance: a token must be expired
 *   by more than 5 minutes to be rejected.
 * - `aud` must equal MicrosoftAppId (there is no jsonwebtoken audience check, only this one).
 * - `serviceurl` must equal activity.serviceUrl exactly (string compare, trailing slash matters),
 *   whenever the activity has a serviceUrl.
 * - Do NOT add `ver` + `appid`/`azp` differing from `aud`: such a token is classified as a
 *   skill (bot-to-bot) token and validated against the emulator/AAD issuers instead, so it fails.
 *   Real channel tokens carry just iss, aud, serviceurl, nbf, exp.
 * No call to the Microsoft token endpoint is needed to validate an inbound request.
 *
 * botbuilder caches fetched keys per metadata URL for the whole process (24 h, refetching on an
 * unknown kid at most hourly), so each server serves under a random path prefix: a later server
 * that happens to reuse the port never gets the previous server's cached keys.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey, JWTPayload } from 'jose';

export const DEFAULT_CHANNEL_ISSUER = 'https://api.botframework.com';
/** A Microsoft Entra tenant's v2.0 token issuer ("Access token claims reference": `iss`). */
export const entraIssuer = (tenantId: string) => `https://login.microsoftonline.com/${tenantId}/v2.0`;

export interface OpenIdServerOptions {
  /** Token issuer; configure the bot's ToBotFromChannelTokenIssuer with the same value. */
  issuer?: string;
  /** Channels the published key is endorsed for. */
  endorsements?: string[];
}

/** Relative times: a number is seconds from now (negative = past), a string is a jose span like '1h' or '-10m'. */
export type RelativeTime = number | string;

export interface SignOptions {
  /** Default 3600 (one hour). */
  expiresIn?: RelativeTime;
  /** Default 0 (now). */
  notBefore?: RelativeTime;
  /** 'forged' signs with an unpublished key that claims the published kid. */
  key?: 'good' | 'forged';
}

export interface OpenIdServer {
  metadataUrl: string;
  /**
   * The same keys as a Microsoft Entra ID tenant's v2.0 metadata, `{tenantId}` in the path as in
   * Microsoft's URL (PRODUCER_OPENID_METADATA_URL): its issuer is the tenant's v2.0 issuer (entraIssuer).
   */
  entraMetadataUrl: string;
  jwksUrl: string;
  issuer: string;
  kid: string;
  /** Paths requested so far (to prove botbuilder fetched metadata and keys). */
  requests: string[];
  /** Signs `{ iss: issuer, ...claims }` (claims may override iss). */
  sign(claims: Record<string, unknown>, opts?: SignOptions): Promise<string>;
  stop(): Promise<void>;
}

/** The bot's settings that make botbuilder validate channel tokens against this server. */
export function channelTokenSettings(server: OpenIdServer) {
  return {
    ToBotFromChannelOpenIdMetadataUrl: server.metadataUrl,
    ToBotFromChannelTokenIssuer: server.issuer,
  };
}

export async function startOpenIdServer(opts: OpenIdServerOptions = {}): Promise<OpenIdServer> {
  const issuer = opts.issuer ?? DEFAULT_CHANNEL_ISSUER;
  const endorsements = opts.endorsements ?? ['msteams'];
  const kid = `test-key-${randomUUID()}`;
  const good = await generateKeyPair('RS256');
  const forged = await generateKeyPair('RS256');
  const jwks = {
    keys: [{ ...(await exportJWK(good.publicKey)), kid, use: 'sig', kty: 'RSA', endorsements }],
  };

  const prefix = `/${randomUUID()}`;
  const requests: string[] = [];
  let origin = '';
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    requests.push(path);
    let body: unknown;
    const tenant = /\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(path)?.[1];
    if (req.method === 'GET' && tenant) {
      // The fields Microsoft's sample response has that a resource server reads ("Find your app's
      // OpenID configuration document URI", docs/identity-platform/v2-protocols-oidc.md).
      body = {
        issuer: entraIssuer(tenant),
        jwks_uri: `${origin}${prefix}/keys`,
        token_endpoint: `https://login.microsoftonline.com/${tenant}/oauth2/v2.0/token`,
        id_token_signing_alg_values_supported: ['RS256'],
        tenant_region_scope: 'EU',
      };
    } else if (req.method === 'GET' && path.endsWith('/.well-known/openidconfiguration')) {
      body = {
        issuer,
        jwks_uri: `${origin}${prefix}/keys`,
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['private_key_jwt'],
      };
    } else if (req.method === 'GET' && path.endsWith('/keys')) {
      body = jwks;
    }
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { error: 'not found' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    metadataUrl: `${origin}${prefix}/.well-known/openidconfiguration`,
    entraMetadataUrl: `${origin}${prefix}/{tenantId}/v2.0/.well-known/openid-configuration`,
    jwksUrl: `${origin}${prefix}/keys`,
    issuer,
    kid,
    requests,
    sign(claims, signOpts = {}) {
      const now = Math.floor(Date.now() / 1000);
      const at = (t: RelativeTime): number | string => (typeof t === 'number' ? now + t : t);
      const key: CryptoKey = signOpts.key === 'forged' ? forged.privateKey : good.privateKey;
      return new SignJWT({ iss: issuer, ...claims } as JWTPayload)
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
        .setIssuedAt(now)
        .setNotBefore(at(signOpts.notBefore ?? 0))
        .setExpirationTime(at(signOpts.expiresIn ?? 3600))
        .sign(key);
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
