/**
 * Issue 23, the README's quick start step: in the sandbox `npm start` runs, `npm run notify -- --to
 * adelev@example.com` reaches Adele Vance, whom the bot never met (no install, no roster read):
 * the app finds her in the sandbox's Microsoft Graph (a fake after Microsoft's docs), installs
 * itself for her, Teams' installation activity comes through the Playground, and the DM arrives in
 * the chat the install opened, with no welcome before it. On 06d3f9d the job fails with
 * RecipientNotFound and the Playground sees nothing.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NEVER_MET } from '../../scripts/sandbox/graph.js';
import { PLAYGROUND_TENANT, storageConnection } from '../../scripts/sandbox/settings.js';
import type { Sandbox } from '../../scripts/sandbox/stack.js';
import type { JobStatus } from '../../functions/getNotification/jobStatus.js';
import { ROOT, eventually } from '../support/app.js';
import type { Playground } from '../support/playground.js';
import { startPlaygroundSandbox } from '../support/sandboxPorts.js';

const run = promisify(execFile);

describe('the sandbox reaches someone who never opened the Playground', () => {
  let sandbox: Sandbox;
  let pg: Playground;

  beforeAll(async () => {
    ({ sandbox, pg } = await startPlaygroundSandbox());
  });
  afterAll(async () => {
    await sandbox?.stop();
  });

  it('npm run notify -- --to adelev@example.com: a proactive install, then the DM', async () => {
    // As the README's step: the CLI, with the sandbox's storage and tenant.
    const { stdout } = await run(
      process.execPath,
      ['dist/scripts/notify.js', '--to', NEVER_MET.userPrincipleName, '--text', 'Welcome to the team'],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          AzureWebJobsStorage: storageConnection(sandbox.ports),
          DEFAULT_TENANT_ID: PLAYGROUND_TENANT,
        },
      },
    );
    const jobId = stdout.trim();
    const status = await eventually(
      async () => {
        const res = await fetch(`${sandbox.app.url}/api/notifications/${encodeURIComponent(jobId)}`);
        const body = res.ok ? ((await res.json()) as JobStatus) : undefined;
        return body?.complete ? body : undefined;
      },
      30_000,
      'the job to settle',
    );
    expect(status.recipients[0]).toMatchObject({ status: 'sent' });

    // The install opened Adele's 1:1 chat in the Playground's Bot Connector...
    const created = (await pg.createConversationCalls()).filter(
      (c) => (c.request['members'] as Array<{ id: string }> | undefined)?.[0]?.id === NEVER_MET.id,
    );
    expect(created).toHaveLength(1);
    const chat = created[0]!.conversationId!;
    // ... Teams' installation activity reached the bot through the Playground ...
    await pg.waitForActivity(
      (a) => a['type'] === 'installationUpdate' && (a['from'] as { id?: string }).id === NEVER_MET.id,
      { timeoutMs: 10_000 },
    );
    // ... and the DM is the only message there: no welcome.
    expect(status.recipients[0]!.conversationId).toBe(chat);
    expect((await pg.messagesIn(chat)).map((m) => m.text)).toEqual(['Welcome to the team']);
    expect(sandbox.graph.requests.map((r) => `${r.route} ${r.status}`)).toEqual([
      'getUser 200',
      'listCatalog 200',
      'installApp 201',
      'listInstalledApps 200',
      'getChat 200',
    ]);
  });
});
