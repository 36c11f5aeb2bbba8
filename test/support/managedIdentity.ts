/**
 * A stand-in for the App Service managed identity endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER),
 * so a bot configured with `MicrosoftAppType=UserAssignedMsi` really obtains an outbound token
 * without Microsoft login: @azure/identity asks this server, and every token it hands out is
 * `token` (distinctive, so a test can look for it wherever it must never appear).
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ManagedIdentityServer {
  /** Put these into the app's settings. */
  env: { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  /** The access token every request gets. */
  token: string;
  /** How many tokens were handed out. */
  issued: number;
  stop(): Promise<void>;
}

export async function startManagedIdentity(): Promise<ManagedIdentityServer> {
  const header = `identity-header-${randomUUID()}`;
  const token = `bot-token-${randomUUID()}`;
  const state = { issued: 0 };
  const server = createServer((req, res) => {
    if (req.headers['x-identity-header'] !== header) {
      res.writeHead(401).end();
      return;
    }
    state.issued += 1;
    const resource = new URL(req.url ?? '/', 'http://x').searchParams.get('resource') ?? '';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        access_token: token,
        expires_on: String(Math.floor(Date.now() / 1000) + 3600),
        resource,
        token_type: 'Bearer',
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    env: { IDENTITY_ENDPOINT: `http://127.0.0.1:${port}/msi/token`, IDENTITY_HEADER: header },
    token,
    get issued() {
      return state.issued;
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
