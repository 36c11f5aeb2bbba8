import { randomUUID } from 'node:crypto';
import type { QueueSender } from '../queues.js';
import type { ConversationStore, RosterSync, TeamRecord } from '../stores/conversations.js';
import { storeRosterPage, type RosterPageReader } from './sync.js';

/**
 * A team's roster, read as queued, checkpointed work. A team install only records the team and asks
 * for the read (`requestRosterSync`, one queue message on the deliveries queue, `kind: "roster"`),
 * so the bot answers Teams at once whatever the team's size. The task (`runRosterTask`) reads the
 * roster a page at a time, stores each page's members and saves a checkpoint (Teams' continuation
 * token, the count) on the team row after each page, ETag-guarded; after a time budget the rest goes
 * back to the queue. A redelivered task goes on from the checkpoint; a Teams retry of the install,
 * or the second of the two events Teams sends for one install, finds the read asked for and asks
 * for no other.
 */

export interface RosterTask {
  v: 1;
  kind: 'roster';
  tenantId: string;
  teamId: string;
  /** The read this task belongs to (RosterSync.id): a later install's replaces it. */
  syncId: string;
}

export function isRosterTask(value: unknown): value is RosterTask {
  const t = value as Partial<RosterTask> | undefined;
  return (
    !!t &&
    typeof t === 'object' &&
    t.v === 1 &&
    t.kind === 'roster' &&
    typeof t.tenantId === 'string' &&
    typeof t.teamId === 'string' &&
    typeof t.syncId === 'string'
  );
}

/** Runs `work` with a reader of the team's roster pages (refresh.ts: Teams, through botbuilder). */
export type RosterReader = (
  team: Pick<TeamRecord, 'tenantId' | 'teamId' | 'serviceUrl'>,
  work: (read: RosterPageReader) => Promise<void>,
) => Promise<void>;

/** A read asked for this long ago and not finished is presumed lost (its task poisoned); a new install asks again. */
const SYNC_LOST_MS = 15 * 60_000;
/** A read finished this recently is not asked for again (Teams sends two events for one install). */
const SYNC_FRESH_MS = 60_000;

/** Whether an install finds its team's roster read under way or just done (pure). */
export function rosterSyncBusy(team: TeamRecord | undefined, now: number): boolean {
  if (!team?.installed) return false;
  const sync = team.rosterSync;
  if (sync && !sync.doneAt && !sync.failed && now - Date.parse(sync.requestedAt) < SYNC_LOST_MS) return true;
  return !!team.rosterSyncedAt && now - Date.parse(team.rosterSyncedAt) < SYNC_FRESH_MS;
}

/**
 * The install: records the team as installed and queues the read of its roster, unless one is under
 * way or another install event got there first (the team row's ETag decides). True when queued.
 */
export async function requestRosterSync(
  d: { conversations: ConversationStore; queue: QueueSender },
  install: Pick<TeamRecord, 'tenantId' | 'teamId' | 'name' | 'serviceUrl'>,
  now = Date.now(),
): Promise<boolean> {
  const existing = await d.conversations.getTeam(install.tenantId, install.teamId);
  if (rosterSyncBusy(existing, now)) return false;
  const sync: RosterSync = { id: randomUUID(), requestedAt: new Date(now).toISOString(), count: 0 };
  const etag = await d.conversations.saveTeamIf(
    {
      ...install,
      installed: true,
      memberCount: existing?.memberCount ?? 0,
      rosterSyncedAt: existing?.rosterSyncedAt,
      rosterSync: sync,
    },
    existing?.etag,
  );
  if (etag === undefined) return false;
  const task: RosterTask = {
    v: 1,
    kind: 'roster',
    tenantId: install.tenantId,
    teamId: install.teamId,
    syncId: sync.id,
  };
  await d.queue.send(task);
  return true;
}

export type RosterTaskResult =
  | { kind: 'done'; reason: string; members: number }
  /** The rest of the roster, as a new message. */
  | { kind: 'again'; members: number };

/** Reads the roster from the task's checkpoint until the end or the time budget. */
export async function runRosterTask(
  task: RosterTask,
  d: { conversations: ConversationStore; reader: RosterReader },
  o: { budgetMs?: number } = {},
): Promise<RosterTaskResult> {
  let team = await d.conversations.getTeam(task.tenantId, task.teamId);
  const current = (t: TeamRecord | undefined) =>
    t?.rosterSync?.id === task.syncId && !t.rosterSync.doneAt && !t.rosterSync.failed;
  if (!team || !current(team)) return { kind: 'done', reason: 'Superseded', members: 0 };
  if (!team.installed) return { kind: 'done', reason: 'Uninstalled', members: 0 };
  const started = Date.now();
  let result: RosterTaskResult | undefined;
  await d.reader(team, async (read) => {
    while (!result) {
      const sync = team!.rosterSync!;
      const page = await read(sync.token);
      const count = sync.count + (await storeRosterPage(d.conversations, team!, page));
      const doneAt = page.token ? undefined : new Date().toISOString();
      const next: TeamRecord = {
        ...team!,
        rosterSync: { ...sync, token: page.token, count, doneAt },
        ...(doneAt ? { memberCount: count, rosterSyncedAt: doneAt } : {}),
      };
      const saved = await d.conversations.saveTeamIf(next, team!.etag);
      if (saved === undefined) {
        // Someone else wrote the team row: a rename goes on; another task's progress, a new
        // install or an uninstall ends this read.
        const fresh = await d.conversations.getTeam(task.tenantId, task.teamId);
        if (!current(fresh) || fresh!.rosterSync!.token !== sync.token || !fresh!.installed) {
          result = { kind: 'done', reason: 'TakenOver', members: count };
          return;
        }
        team = fresh;
        continue;
      }
      team = { ...next, etag: saved };
      if (doneAt) result = { kind: 'done', reason: 'Done', members: count };
      else if (Date.now() - started >= (o.budgetMs ?? 30_000)) result = { kind: 'again', members: count };
    }
  });
  return result ?? { kind: 'done', reason: 'NotRead', members: 0 };
}
