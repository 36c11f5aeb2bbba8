/**
 * Scenario 2, cost per DM: storage transactions and connector calls of one delivery, for a known
 * recipient (user cache warm or cold) and a first contact (warm instance or a brand-new one).
 */
import type { Services } from '../shared/container.js';
import type { FakeConnector } from '../test/support/fakeConnector.js';
import { attempt, calls, round, seedUsers, services, task, TENANT, type Seeded } from './common.js';
import { countStorageRequests, type RequestCounter } from './storageRequests.js';

async function measureOne(s: Services, fake: FakeConnector, jobId: string, recipient: string) {
  const counter: RequestCounter = { table: 0, queue: 0 };
  const before = calls(fake);
  countStorageRequests(counter);
  const r = await s.delivery.deliver(task(jobId, recipient), attempt());
  countStorageRequests(undefined);
  return {
    storage: counter.table + counter.queue,
    table: counter.table,
    queue: counter.queue,
    connector: calls(fake) - before,
    status: r.kind === 'done' ? r.status : r.kind,
  };
}

async function sample(label: string, s: Services, fake: FakeConnector, recipients: string[]) {
  const jobId = `bench-cost-${label}-${Date.now()}`;
  const rows: Awaited<ReturnType<typeof measureOne>>[] = [];
  for (const r of recipients) rows.push(await measureOne(s, fake, jobId, r));
  const avg = (f: (x: (typeof rows)[number]) => number) =>
    round(rows.reduce((a, x) => a + f(x), 0) / rows.length, 2);
  const out = {
    samples: rows.length,
    storageAvg: avg((x) => x.storage),
    storageMin: Math.min(...rows.map((x) => x.storage)),
    storageMax: Math.max(...rows.map((x) => x.storage)),
    connectorAvg: avg((x) => x.connector),
    statuses: [...new Set(rows.map((x) => x.status))],
  };
  console.log(`cost ${label}: ${JSON.stringify(out)}`);
  return out;
}

export async function costPerDm(fake: FakeConnector, warmService: Services, warmUsers: Seeded[]) {
  const N = 20;
  // (a) warm: users this instance just delivered to (in-process user cache holds them).
  const knownWarm = await sample(
    'known-warm',
    warmService,
    fake,
    warmUsers.slice(0, N).map((u) => u.recipient),
  );
  // (a) cold: chat stored, but this instance has not seen the user (e.g. after a restart or on another instance).
  const coldUsers = await seedUsers(warmService, fake, N, true);
  const knownCold = await sample(
    'known-cold',
    warmService,
    fake,
    coldUsers.map((u) => u.recipient),
  );
  // (b) first contact: no chat stored yet; the instance has already delivered in this tenant.
  const newUsers = await seedUsers(warmService, fake, N, false);
  const firstContact = await sample(
    'first-contact',
    warmService,
    fake,
    newUsers.map((u) => u.recipient),
  );
  // (b) first contact on a brand-new instance (tenant's bot ID not cached yet); one sample per instance.
  const freshUsers = await seedUsers(warmService, fake, 5, false);
  const freshRows: Awaited<ReturnType<typeof measureOne>>[] = [];
  for (const u of freshUsers) {
    const fresh = services(fake, 1000, 100);
    await fresh.conversations.getTenant(TENANT); // lets the lazy table client settle outside the measurement
    freshRows.push(await measureOne(fresh, fake, `bench-cost-fresh-${Date.now()}`, u.recipient));
  }
  const firstContactNewInstance = {
    samples: freshRows.length,
    storageAvg: round(freshRows.reduce((a, x) => a + x.storage, 0) / freshRows.length, 2),
    connectorAvg: round(freshRows.reduce((a, x) => a + x.connector, 0) / freshRows.length, 2),
    statuses: [...new Set(freshRows.map((x) => x.status))],
  };
  console.log(`cost first-contact-new-instance: ${JSON.stringify(firstContactNewInstance)}`);
  return { knownWarm, knownCold, firstContact, firstContactNewInstance };
}
