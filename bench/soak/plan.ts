/** The soak's recipients and jobs: seeded users per tenant, and a seeded plan of jobs over them. */
import pMap from 'p-map';
import type { RecipientRef } from '../../shared/jobs/recipient.js';
import { recipientKeyString, toRecipientKey } from '../../shared/jobs/recipient.js';
import type { TableConversationStore } from '../../shared/azureStorage/tableConversationStore.js';
import type { FakeConnector } from '../../test/support/fakeConnector.js';
import { BOT_ID, type SoakOptions } from './types.js';

export const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

export const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
export const tenantIdOf = (t: number) => `5a0c0000-0000-4000-8000-${hex(t + 1, 12)}`;

export interface SoakUser {
  tenantId: string;
  userId: string;
  aadObjectId: string;
  upn: string;
  conversationId: string;
  firstContact: boolean;
}

export interface Expected {
  jobId: string;
  tenantId: string;
  recipient: string;
  user: SoakUser;
}

export interface Job {
  id: string;
  tenantId: string;
  recipients: RecipientRef[];
  users: SoakUser[];
}

export function planJobs(o: SoakOptions, users: SoakUser[][], runTag: string, random: () => number): Job[] {
  const sizes: number[] = [];
  const singles = Math.round(o.deliveries * o.singleShare);
  for (let i = 0; i < singles; i++) sizes.push(1);
  let left = o.deliveries - singles;
  const largest = Math.min(o.maxJobSize, ...users.map((u) => u.length));
  while (left > 0) {
    let size = 2 + Math.floor(random() * (largest - 1));
    if (left - size === 1 || size > left) size = left;
    sizes.push(size);
    left -= size;
  }
  // Shuffle so single and multi-recipient jobs interleave.
  for (let i = sizes.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [sizes[i], sizes[j]] = [sizes[j]!, sizes[i]!];
  }
  return sizes.map((size, n) => {
    const t = Math.floor(random() * users.length);
    const pool = users[t]!;
    // Distinct users within a job: one expected message per chat and job.
    const picked = new Set<number>();
    while (picked.size < size) picked.add(Math.floor(random() * pool.length));
    const chosen = [...picked].map((i) => pool[i]!);
    const recipients = chosen.map((u): RecipientRef => {
      const r = random();
      return r < 0.6 ? { userId: u.userId } : r < 0.8 ? { aadObjectId: u.aadObjectId } : { upn: u.upn };
    });
    return { id: `soak-${runTag}-${n + 1}`, tenantId: tenantIdOf(t), recipients, users: chosen };
  });
}

/**
 * Per tenant, users known from a team roster: a share of them without a stored 1:1 chat (their first
 * delivery opens it), the others with one the connector holds.
 */
export async function seedUsers(o: {
  tenantIds: string[];
  perTenant: number;
  runTag: string;
  firstContactShare: number;
  random: () => number;
  fake: FakeConnector;
  store: TableConversationStore;
}): Promise<SoakUser[][]> {
  const { fake, store } = o;
  const users: SoakUser[][] = o.tenantIds.map((tenantId, t) =>
    Array.from({ length: o.perTenant }, (_, i): SoakUser => {
      const userId = `29:soak-${t}-${i}-${o.runTag}`;
      return {
        tenantId,
        userId,
        aadObjectId: `${hex(i, 8)}-5a0c-4000-8000-${hex(t + 1, 12)}`,
        upn: `soak.user${i}@tenant${t}.example.com`,
        conversationId: fake.conversationIdFor(tenantId, userId, BOT_ID),
        firstContact: o.random() < o.firstContactShare,
      };
    }),
  );
  for (const tenantId of o.tenantIds)
    await store.saveTenant({ tenantId, serviceUrl: fake.url, botId: BOT_ID });
  await pMap(
    users.flat(),
    async (u) => {
      if (!u.firstContact)
        fake.registerConversation(u.conversationId, {
          tenantId: u.tenantId,
          botId: BOT_ID,
          members: [{ id: u.userId }],
        });
      await store.saveUser(
        u.tenantId,
        {
          userId: u.userId,
          aadObjectId: u.aadObjectId,
          upn: u.upn,
          name: 'Soak user',
          serviceUrl: fake.url,
        },
        { source: 'team:soak', ...(u.firstContact ? {} : { conversationId: u.conversationId }) },
      );
    },
    { concurrency: 16 },
  );
  return users;
}

/** One expected delivery per job and recipient, as the records key them. */
export const expectedOf = (jobs: Job[]): Expected[] =>
  jobs.flatMap((job) =>
    job.recipients.map((r, i) => ({
      jobId: job.id,
      tenantId: job.tenantId,
      recipient: recipientKeyString(toRecipientKey(r)),
      user: job.users[i]!,
    })),
  );
