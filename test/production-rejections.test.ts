import { describe, expect, it } from 'vitest';
import { enqueueNotification } from '../shared/jobs/producer.js';
import { TENANT, eventually, type TestApp } from './support/app.js';
import { seedUser, settled, status } from './support/pipeline.js';
import { KEY, jobId, useProductionApp } from './support/production.js';

/**
 * Issue 10: producers hear about rejections, at the status URL, from the CLI and as 409 for a
 * reused ID. Real Azurite and the app in its own process, as production-intake.test.ts runs it.
 */

let app: TestApp;
const { jobsQueue, cli } = useProductionApp((started) => ({ app } = started));

describe('7. producers hear about rejections', () => {
  it('shows a rejected job at its status URL and in npm run status (exit 1), and lists it in npm run rejections', async () => {
    const id = jobId('rejected');
    await jobsQueue().sendMessage(
      JSON.stringify({ id, tenantId: TENANT, recipients: [], message: { text: 'x' } }),
    );
    const s = await eventually(async () => status(app, id), 20_000, 'rejection visible');
    expect(s).toMatchObject({ jobId: id, rejected: true, reason: 'SchemaInvalid', complete: true });
    expect(s.errors?.join()).toMatch(/recipients/);

    const out = await cli('status.js', [id]);
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(new RegExp(`job ${id} rejected \\(SchemaInvalid\\)`));
    expect(out.stdout).toMatch(/recipients/);

    const list = await cli('rejections.js', []);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(id);
    expect(list.stdout).toMatch(/SchemaInvalid/);
  });

  it('answers 409 at once when an ID is reused for different content, 202 for the same content', async () => {
    const user = await seedUser(app);
    const id = jobId('dup');
    const first = { id, tenantId: TENANT, recipients: [{ upn: user.upn }], message: { text: 'first' } };
    expect((await app.post('notifications', first, KEY)).status).toBe(202);
    await settled(app, id);
    const other = await app.post('notifications', { ...first, message: { text: 'second' } }, KEY);
    expect(other.status).toBe(409);
    expect(await other.json()).toMatchObject({ error: 'DuplicateJobId' });
    expect((await app.post('notifications', first, KEY)).status).toBe(202);
  });

  it('npm run status exits non-zero when a delivery failed, zero when all were sent', async () => {
    const user = await seedUser(app);
    const failed = jobId('failed');
    const ok = jobId('ok');
    for (const [id, upn] of [
      [failed, 'nobody-here@contoso.com'],
      [ok, user.upn!],
    ] as const) {
      await enqueueNotification(
        { id, tenantId: TENANT, recipients: [{ upn }], message: { text: 'x' } },
        { connection: app.azurite.connectionString },
      );
      await settled(app, id);
    }
    const bad = await cli('status.js', [failed]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/1 failed/);
    expect((await cli('status.js', [ok])).code).toBe(0);
  });
});
