import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_KEY, ROOT, TENANT, eventually, startApp, type TestApp } from './support/app.js';
import { FAST_QUEUES, seedUser } from './support/pipeline.js';
import { changeProgress } from '../scripts/changeProgress.js';
import { waitOption } from '../scripts/change.js';

/**
 * Issue 25, "honest answers in the first hour": `npm run update`, `recall` and `status` exit
 * non-zero when a change or a delivery failed, the app's log never says "sent" for a change that
 * failed, and counts read as English. Teams' connector here answers one copy's DELETE with 501, as
 * the Agents Playground does. On 06d3f9d `npm run recall` exited 0 as soon as the recall was
 * recorded, `npm run status` exited 0 with a failed recall, and the log said "recall (revision 0):
 * sent (Http501)".
 */

const run = promisify(execFile);
const key = { 'x-functions-key': FUNCTION_KEY };

describe('the CLI and the log tell what happened', () => {
  let app: TestApp;
  let users: Array<{ upn: string; userId: string }> = [];

  async function cli(script: string, ...args: string[]) {
    const env = {
      PATH: process.env.PATH,
      AzureWebJobsStorage: app.azurite.connectionString,
      DEFAULT_TENANT_ID: TENANT,
    };
    try {
      const { stdout } = await run(process.execPath, [path.join(ROOT, 'dist/scripts', script), ...args], {
        env,
      });
      return { code: 0, stdout };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout + e.stderr };
    }
  }
  async function sentJob(id: string, to = users) {
    const res = await app.post(
      'notifications',
      { id, tenantId: TENANT, recipients: to.map((u) => ({ upn: u.upn })), message: { text: `job ${id}` } },
      key,
    );
    expect(res.status).toBe(202);
    await eventually(
      async () =>
        ((await (await app.get(`notifications/${id}`, key)).json()) as { complete: boolean }).complete,
    );
  }

  beforeAll(async () => {
    app = await startApp({ env: FAST_QUEUES });
    users = await Promise.all(
      [1, 2].map(async () => (await seedUser(app)) as { upn: string; userId: string }),
    );
  });

  afterAll(async () => {
    await app?.stop();
  });

  it('npm run recall and npm run status exit 1 when a copy could not be recalled, and say which', async () => {
    await sentJob('honest-recall');
    // One of the two copies: Teams (like the Playground) answers its DELETE with 501.
    const copy = app.connector.accepted.find((a) => String(a.body.text) === 'job honest-recall');
    expect(copy).toBeDefined();
    app.connector.script(
      (r) => r.route === 'deleteActivity' && r.conversationId === copy!.conversationId,
      { status: 501, code: 'NotImplemented' },
      5,
    );
    const recall = await cli('change.js', 'recall', 'honest-recall', '--wait', '30');
    expect(recall.code).toBe(1);
    expect(recall.stdout).toContain('job honest-recall: 1 copy recalled or cancelled, 1 copy failed');
    expect(recall.stdout).toMatch(/recall failed {2}upn:\S+ {2}NotImplemented/);
    const status = await cli('status.js', 'honest-recall');
    expect(status.code).toBe(1);
    expect(status.stdout).toContain('2 recipients: ');
    expect(status.stdout).toContain('1 change failed');
    // The app's log tells the failed recall as failed, never as sent.
    const lines = app.logs.map((l) => l.message).filter((m) => m.startsWith('job honest-recall: recall'));
    expect(lines).toContain('job honest-recall: recall (revision 0): recall failed (NotImplemented)');
    expect(lines.filter((m) => /: sent\b/.test(m))).toEqual([]);
  });

  it('npm run update exits 0 once every copy shows the new revision, and counts in English', async () => {
    await sentJob('honest-update', users.slice(0, 1));
    const update = await cli(
      'change.js',
      'update',
      'honest-update',
      '--text',
      'job honest-update, v2',
      '--wait',
      '30',
    );
    expect(update.code).toBe(0);
    expect(update.stdout).toContain('job honest-update: 1 copy updated to revision 1');
    const status = await cli('status.js', 'honest-update');
    expect([status.code, status.stdout]).toEqual([0, expect.stringContaining('1 recipient: 1 sent')]);
    expect(app.logs.map((l) => l.message)).toContain('job honest-update: accepted over HTTP for 1 recipient');
  });

  it('reads --wait and --no-wait, and tells a change still under way from a failed one', () => {
    expect(waitOption(['j', '--no-wait'])).toEqual({ seconds: 0, rest: ['j'] });
    expect(waitOption(['j', '--wait', '5', '--tenant', 't'])).toEqual({
      seconds: 5,
      rest: ['j', '--tenant', 't'],
    });
    const base = {
      jobId: 'j',
      tenantId: 't',
      acceptedAt: '',
      source: 'http',
      complete: true,
      totals: {} as never,
    };
    const copy = (status: string, extra = {}) =>
      ({ recipient: `r${Math.random()}`, status, attempts: 1, ...extra }) as never;
    const going = changeProgress(
      'recall',
      {
        ...base,
        changes: { op: 'recall', requestedAt: '', queued: 2, done: true },
        recipients: [copy('recalled'), copy('sent')],
      },
      0,
    );
    expect(going).toMatchObject({ done: false, summary: '1 copy recalled or cancelled, 1 copy still to do' });
    const failed = changeProgress(
      'recall',
      {
        ...base,
        changes: { op: 'recall', requestedAt: '', queued: 1, done: true },
        recipients: [
          copy('sent', {
            changeFailure: { op: 'recall', revision: 0, reason: 'Http501', detail: '', at: '' },
          }),
        ],
      },
      0,
    );
    expect(failed).toMatchObject({ done: true, failed: [expect.objectContaining({ reason: 'Http501' })] });
  });
});
