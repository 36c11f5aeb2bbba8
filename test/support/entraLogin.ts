/**
 * A stand-in for login.microsoftonline.com: Microsoft Entra ID's token endpoint for an app that
 * signs in with a federated identity credential, and the issuer of managed identities' tokens.
 *
 * What it answers, and where the shapes come from:
 * - `GET /{tenant}/v2.0/.well-known/openid-configuration`, which msal-node reads before its first
 *   token request: "OpenID Connect on the Microsoft identity platform", "Find your app's OpenID
 *   configuration document URI" and "Sample response" (MicrosoftDocs/entra-docs
 *   docs/identity-platform/v2-protocols-oidc.md); `issuer` as the OpenID discovery spec requires it,
 *   in Entra's v2.0 form `https://login.microsoftonline.com/{tenant}/v2.0`.
 * - `POST /{tenant}/oauth2/v2.0/token`: "Microsoft identity platform and the OAuth 2.0 client
 *   credentials flow", "Third case: Access token request with a federated credential",
 *   "Successful response" and "Error response" (docs/identity-platform/v2-oauth2-client-creds-grant-flow.md):
 *   form fields grant_type=client_credentials, client_id, scope, client_assertion_type
 *   urn:ietf:params:oauth:client-assertion-type:jwt-bearer and client_assertion; success
 *   `{ token_type, expires_in, access_token }`; failure 400 `{ error, error_description, error_codes,
 *   timestamp, trace_id, correlation_id }`.
 * - The assertion check: "Configure an application to trust a managed identity"
 *   (docs/workload-id/workload-identity-federation-config-app-trust-managed-identity.md): the
 *   token's issuer and subject must match a federated credential of the app, its audience must be
 *   the credential's (api://AzureADTokenExchange), and it must be current. AADSTS700024 (assertion
 *   outside its valid time range) and AADSTS70021 (no matching federated identity record) are the
 *   codes Entra gives for those failures as widely reported; Microsoft's error-code table
 *   (docs/identity-platform/reference-error-codes.md) does not list them.
 *
 * msal-node only talks to an https authority and knows login.microsoftonline.com's metadata, so the
 * fake serves https with a certificate for that name, and `route()` sends this process's https
 * connections for login.microsoftonline.com to it, trusting the certificate: the app's code runs
 * unchanged, with the real authority URL.
 */
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { SignJWT, generateKeyPair, jwtVerify, type CryptoKey } from 'jose';
import { generate } from 'selfsigned';
import type { HostRoute } from './workerRouting.js';

export const LOGIN_HOST = 'login.microsoftonline.com';
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';
export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface FederatedCredential {
  issuer: string;
  subject: string;
  audience: string;
}

export interface TokenRequest {
  path: string;
  form: Record<string, string>;
}

export interface EntraLogin {
  tenantId: string;
  /** Every token request, as sent. */
  tokenRequests: TokenRequest[];
  /** Access tokens handed out, in order. */
  issuedTokens: string[];
  /** A managed identity's token, as Entra issues it: iss the tenant's v2.0 authority, sub its principal ID. */
  mintManagedIdentityToken(principalId: string, audience: string, lifetimeSeconds: number): Promise<string>;
  /** Sends this process's https connections for login.microsoftonline.com here; returns the undo. */
  route(): () => void;
  /** The same route for another process (the local host's worker: workerRouting.ts). */
  hostRoute: HostRoute;
  graphTokenRoles(token: string): Promise<readonly string[] | undefined>;
  stop(): Promise<void>;
}

export interface EntraLoginOptions {
  tenantId: string;
  /** App ID → its federated identity credentials. */
  apps: Record<string, FederatedCredential[]>;
  /** Lifetime of the access tokens handed out (the docs' example: 3599). */
  tokenLifetimeSeconds?: number;
  /**
   * The application permissions granted to each app (app ID → roles). For a Microsoft Graph scope
   * the access token is then a JWT with them in its `roles` claim, as Entra issues app-only tokens
   * ("Access token claims reference", entra-docs docs/identity-platform/access-token-claims-reference.md:
   * `aud`, `iss`, `tid`, `appid`, `roles`, `idtyp` "app"); other tokens stay opaque.
   */
  graphRoles?: Record<string, readonly string[]>;
}

export async function startEntraLogin(options: EntraLoginOptions): Promise<EntraLogin> {
  const { tenantId } = options;
  const authority = `https://${LOGIN_HOST}/${tenantId}`;
  const issuer = `${authority}/v2.0`;
  const keys = await generateKeyPair('RS256');
  const kid = randomUUID();
  const pems = await generate([{ name: 'commonName', value: LOGIN_HOST }], {
    keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: LOGIN_HOST }] }],
  });
  const tokenRequests: TokenRequest[] = [];
  const issuedTokens: string[] = [];

  const refuse = (res: import('node:http').ServerResponse, error: string, code: number, text: string) => {
    const traceId = randomUUID();
    const correlationId = randomUUID();
    const timestamp = new Date()
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, 'Z');
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        error,
        error_description: `AADSTS${code}: ${text}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
        error_codes: [code],
        timestamp,
        trace_id: traceId,
        correlation_id: correlationId,
      }),
    );
  };

  async function token(form: Record<string, string>, res: import('node:http').ServerResponse) {
    if (form.grant_type !== 'client_credentials')
      return refuse(res, 'unsupported_grant_type', 70003, 'UnsupportedGrantType');
    const credentials = options.apps[form.client_id ?? ''];
    if (!credentials)
      return refuse(res, 'unauthorized_client', 700016, 'Application not found in the directory.');
    if (form.client_assertion_type !== JWT_BEARER || !form.client_assertion)
      return refuse(
        res,
        'invalid_client',
        7000218,
        'The request body must contain client_assertion or client_secret.',
      );
    let claims;
    try {
      // Entra checks its own signature on a managed identity's token; current time included.
      claims = (await jwtVerify(form.client_assertion, keys.publicKey, { clockTolerance: 0 })).payload;
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_JWT_EXPIRED')
        return refuse(res, 'invalid_client', 700024, 'Client assertion is not within its valid time range.');
      return refuse(res, 'invalid_client', 700027, 'Client assertion failed signature validation.');
    }
    const matches = credentials.some(
      (c) => c.issuer === claims.iss && c.subject === claims.sub && [claims.aud].flat().includes(c.audience),
    );
    if (!matches)
      return refuse(
        res,
        'invalid_client',
        70021,
        'No matching federated identity record found for presented assertion.',
      );
    if (!/^\S+\/\.default$/.test(form.scope ?? ''))
      return refuse(
        res,
        'invalid_scope',
        70011,
        "The provided value for the input parameter 'scope' is not valid.",
      );
    const roles = options.graphRoles?.[form.client_id ?? ''];
    const graph = /^https:\/\/graph\.microsoft\.com\/\.default$/.test(form.scope ?? '');
    const accessToken =
      roles && graph
        ? await new SignJWT({
            aud: 'https://graph.microsoft.com',
            tid: tenantId,
            appid: form.client_id,
            roles: [...roles],
            idtyp: 'app',
          })
            .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
            .setIssuer(`https://sts.windows.net/${tenantId}/`)
            .setIssuedAt()
            .setExpirationTime(Math.floor(Date.now() / 1000) + (options.tokenLifetimeSeconds ?? 3599))
            .sign(keys.privateKey as CryptoKey)
        : `entra-access-token-${randomUUID()}`;
    issuedTokens.push(accessToken);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        token_type: 'Bearer',
        expires_in: options.tokenLifetimeSeconds ?? 3599,
        access_token: accessToken,
      }),
    );
  }

  const server = https.createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' && path === `/${tenantId}/v2.0/.well-known/openid-configuration`) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
          token_endpoint: `${authority}/oauth2/v2.0/token`,
          token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt'],
          jwks_uri: `${authority}/discovery/v2.0/keys`,
          userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
          subject_types_supported: ['pairwise'],
          issuer,
        }),
      );
      return;
    }
    if (req.method === 'POST' && path === `/${tenantId}/oauth2/v2.0/token`) {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const form = Object.fromEntries(new URLSearchParams(body));
        tokenRequests.push({ path, form });
        void token(form, res);
      });
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'not_found' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    tenantId,
    tokenRequests,
    issuedTokens,
    hostRoute: { host: LOGIN_HOST, port, ca: pems.cert },
    mintManagedIdentityToken: (principalId, audience, lifetimeSeconds) =>
      new SignJWT({ aud: audience, iss: issuer, sub: principalId, oid: principalId, tid: tenantId })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
        .setIssuedAt()
        .setNotBefore(Math.floor(Date.now() / 1000))
        .setExpirationTime(Math.floor(Date.now() / 1000) + lifetimeSeconds)
        .sign(keys.privateKey as CryptoKey),
    route() {
      // Every https agent: msal-node uses the global one, @azure/identity agents of its own.
      const original = https.Agent.prototype.createConnection;
      const patched = function (this: https.Agent, options: tls.ConnectionOptions, callback?: never) {
        const target =
          options.host === LOGIN_HOST
            ? { ...options, host: '127.0.0.1', port, servername: LOGIN_HOST, ca: [pems.cert] }
            : options;
        return (original as (this: https.Agent, o: tls.ConnectionOptions, cb?: never) => unknown).call(
          this,
          target,
          callback,
        );
      };
      https.Agent.prototype.createConnection = patched as typeof original;
      https.globalAgent.destroy();
      return () => {
        https.Agent.prototype.createConnection = original;
        https.globalAgent.destroy();
      };
    },
    /** Verifies an access token it issued for Microsoft Graph: its roles, or undefined. */
    async graphTokenRoles(token: string) {
      try {
        const { payload } = await jwtVerify(token, keys.publicKey, {
          audience: 'https://graph.microsoft.com',
        });
        return Array.isArray(payload.roles) ? (payload.roles as string[]) : undefined;
      } catch {
        return undefined;
      }
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
