/**
 * A stand-in for the App Service managed identity endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER),
 * so a bot that signs in with a managed identity really obtains a token without Microsoft login.
 * @azure/identity (MicrosoftAppType=UserAssignedMsi) and msal-node's ManagedIdentityApplication
 * (botbuilder's federated credentials) both pick this endpoint when those two variables are set
 * (msal-node dist/client/ManagedIdentitySources/AppService.mjs).
 *
 * Request and response as Microsoft documents the endpoint ("How to use managed identities for App
 * Service and Azure Functions", REST endpoint reference, learn.microsoft.com/azure/app-service/overview-managed-identity):
 * `GET {IDENTITY_ENDPOINT}?resource=...&api-version=2019-08-01&client_id=...` with the
 * `X-IDENTITY-HEADER` header; a JSON answer with access_token, expires_on (epoch seconds as a
 * string), resource, token_type and client_id.
 *
 * By default every token is the fixed `token` (distinctive, so a test can look for it wherever it
 * must never appear). With `issue`, tokens come from that function instead: a test of federated
 * credentials has its fake Microsoft Entra ID mint them, as Entra issues managed identities' tokens.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ManagedIdentityRequest {
  resource: string;
  apiVersion: string;
  /** The user-assigned identity asked for (absent: the system-assigned one). */
  clientId: string | undefined;
}

export interface ManagedIdentityOptions {
  /** Mints the token for a request; resolves to the token and its lifetime in seconds. */
  issue?: (request: ManagedIdentityRequest) => Promise<{ token: string; expiresIn: number }>;
}

export interface ManagedIdentityServer {
  /** Put these into the app's settings. */
  env: { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  /** The access token every request gets when no `issue` function is given. */
  token: string;
  /** How many tokens were handed out. */
  issued: number;
  /** Every request that carried the right header, in order. */
  requests: ManagedIdentityRequest[];
  stop(): Promise<void>;
}

export async function startManagedIdentity(
  options: ManagedIdentityOptions = {},
): Promise<ManagedIdentityServer> {
  const header = `identity-header-${randomUUID()}`;
  const token = `bot-token-${randomUUID()}`;
  const requests: ManagedIdentityRequest[] = [];
  const server = createServer((req, res) => {
    if (req.headers['x-identity-header'] !== header) {
      res.writeHead(401).end();
      return;
    }
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const request: ManagedIdentityRequest = {
      resource: query.get('resource') ?? '',
      apiVersion: query.get('api-version') ?? '',
      clientId: query.get('client_id') ?? undefined,
    };
    requests.push(request);
    const issue = options.issue ?? (async () => ({ token, expiresIn: 3600 }));
    issue(request).then(
      (issued) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            access_token: issued.token,
            expires_on: String(Math.floor(Date.now() / 1000) + issued.expiresIn),
            resource: request.resource,
            token_type: 'Bearer',
            ...(request.clientId ? { client_id: request.clientId } : {}),
          }),
        );
      },
      (err: unknown) => {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ statusCode: 400, message: String(err) }));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    env: { IDENTITY_ENDPOINT: `http://127.0.0.1:${port}/msi/token`, IDENTITY_HEADER: header },
    token,
    get issued() {
      return requests.length;
    },
    requests,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
