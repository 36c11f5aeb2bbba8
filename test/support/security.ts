import { afterAll, beforeAll } from 'vitest';
import { TENANT, eventually, startApp, type TestApp } from './app.js';
import { startManagedIdentity, type ManagedIdentityServer } from './managedIdentity.js';
import { startOpenIdServer, type OpenIdServer } from './openid.js';
import { FAST_QUEUES } from './pipeline.js';
import { startTrapServer, type TrapServer } from './trapServer.js';

/**
 * The app as the security tests run it (issue 6): authentication on and a real outbound token, a
 * user-assigned managed identity served by a local identity endpoint, so botbuilder and the delivery
 * connector hold `msi.token` and would send it with every call. Inbound tokens are signed by a local
 * OpenID server and validated by botbuilder for real. A trap server listens where a steered token
 * would go.
 */

const APP_ID = '5f2b8c1e-0d4a-4c59-9a61-1f3c7d2e9b10';

export interface SecureApp {
  app: TestApp;
  openId: OpenIdServer;
  msi: ManagedIdentityServer;
  trap: TrapServer;
}

/**
 * Starts the secure app before a file's tests and stops it after them; `started` gets it once it
 * runs. Returns what the tests send and read through, and what they check for secrets.
 */
export function useSecureApp(started: (running: SecureApp) => void) {
  let app: TestApp | undefined;
  let openId: OpenIdServer | undefined;
  let msi: ManagedIdentityServer | undefined;
  let trap: TrapServer | undefined;
  /** Every console line written in this process while the app ran (the app logs through context.log too). */
  const consoleLines: string[] = [];
  const restoreConsole: Array<() => void> = [];
  /** Inbound bearer tokens used by the tests: secrets too. */
  const inboundTokens: string[] = [];

  beforeAll(async () => {
    for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      const original = console[level];
      console[level] = (...args: unknown[]) => {
        consoleLines.push(args.map(String).join(' '));
        original(...args);
      };
      restoreConsole.push(() => (console[level] = original));
    }
    [openId, msi, trap] = await Promise.all([startOpenIdServer(), startManagedIdentity(), startTrapServer()]);
    const identity = msi;
    const issuer = openId;
    app = await startApp({
      env: (connector) => ({
        ...FAST_QUEUES,
        MicrosoftAppId: APP_ID,
        MicrosoftAppType: 'UserAssignedMsi',
        MicrosoftAppTenantId: TENANT,
        ...identity.env,
        ToBotFromChannelOpenIdMetadataUrl: issuer.metadataUrl,
        ToBotFromChannelTokenIssuer: issuer.issuer,
        // Only the fake connector's own port is trusted; the trap listens on another port of 127.0.0.1.
        BOT_EXTRA_SERVICE_HOSTS: new URL(connector.url).host,
        ALLOWED_TENANT_IDS: TENANT,
      }),
    });
    started({ app, openId, msi, trap });
  });

  afterAll(async () => {
    await app?.stop();
    await Promise.all([openId?.stop(), msi?.stop(), trap?.stop()]);
    for (const restore of restoreConsole) restore();
  });

  async function signedPost(activity: { serviceUrl: string }, serviceurl = activity.serviceUrl) {
    const token = await openId!.sign({ aud: APP_ID, serviceurl });
    inboundTokens.push(token);
    return app!.post('messages', activity, { authorization: `Bearer ${token}` });
  }

  async function partitionRows(tenantId: string, rowKeyPrefix = '') {
    const rows: Array<Record<string, unknown>> = [];
    const filter = `PartitionKey eq '${tenantId}'`;
    for await (const row of app!.table('Conversations').listEntities<Record<string, unknown>>({
      queryOptions: { filter },
    })) {
      if (String(row.rowKey).startsWith(rowKeyPrefix)) rows.push(row);
    }
    return rows;
  }

  async function rejectedRow(jobId: string) {
    return eventually(
      async () => {
        for await (const row of app!.table('RejectedJobs').listEntities<Record<string, unknown>>()) {
          if (row.jobId === jobId) return row;
        }
        return undefined;
      },
      15_000,
      `rejected job ${jobId}`,
    );
  }

  async function jobRecorded(jobId: string): Promise<boolean> {
    try {
      await app!.table('Jobs').getEntity(encodeURIComponent(jobId), 'job');
      return true;
    } catch {
      return false;
    }
  }

  const authorizedCalls = () => app!.connector.calls.filter((c) => c.headers.authorization);

  return {
    consoleLines,
    inboundTokens,
    signedPost,
    partitionRows,
    rejectedRow,
    jobRecorded,
    authorizedCalls,
  };
}
