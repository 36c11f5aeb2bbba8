import type { InvocationContext } from '@azure/functions';
import { services } from '../../shared/container.js';
import { timeLeft, type Deadline } from '../../shared/delivery/deadline.js';
import { isChangeFanOutTask, runChangeFanOut } from '../../shared/followUps/changeFanOut.js';
import { isRosterTask, runRosterTask } from '../../shared/roster/rosterTask.js';
import { DELIVERIES_QUEUE, poisonQueueOf } from '../../shared/queues.js';
import { EventNames, telemetry } from '../../shared/telemetry/telemetry.js';
import { reportPoisoned } from '../../shared/triggers/queueTelemetry.js';
import { plural } from '../../shared/text.js';

/** How long one run of a work task goes on before the rest goes back as a new message. */
const WORK_BUDGET_MS = 30_000;

/**
 * The long work that request handlers queue instead of doing (issue 22): an update's or recall's
 * fan-out (shared/followUps/changeFanOut.ts) and a team's roster read after an install
 * (shared/roster/rosterTask.ts). Both are on the deliveries queue beside deliveries and change
 * tasks; what is left after a time budget comes back as a new message. False for anything else.
 */
export async function handleWorkTask(
  value: unknown,
  context: InvocationContext,
  deadline: Deadline,
): Promise<boolean> {
  // Each run hands the rest back after its time budget, which the invocation's deadline may shorten.
  const budgetMs = Math.max(1000, Math.min(WORK_BUDGET_MS, timeLeft(deadline)));
  if (isChangeFanOutTask(value)) {
    const result = await runChangeFanOut(value, services(), { budgetMs });
    const what = `job ${value.jobId}: ${value.op} fan-out`;
    if (result.kind === 'again') {
      await services().deliveryQueue.send(value, result.delayMs);
      context.log(`${what}: continues in ${result.delayMs} ms (${result.reason})`);
    } else {
      context.log(`${what}: ${result.reason}, ${plural(result.queued, 'change task')} queued`);
    }
    return true;
  }
  if (isRosterTask(value)) {
    const { conversations, config } = services();
    // botbuilder is loaded only when a roster is read.
    const { teamsRosterReader } = await import('../../shared/roster/refresh.js');
    const result = await runRosterTask(
      value,
      { conversations, reader: teamsRosterReader(config) },
      { budgetMs },
    );
    if (result.kind === 'again') {
      await services().deliveryQueue.send(value);
      context.log(`team roster read: ${plural(result.members, 'member')} so far; continues as a new message`);
      return true;
    }
    if (result.reason === 'Done') {
      telemetry().event(
        EventNames.rosterRead,
        { tenantId: value.tenantId, scope: 'team' },
        { members: result.members },
      );
    }
    context.log(`team roster read: ${result.reason} (${plural(result.members, 'member')})`);
    return true;
  }
  return false;
}

/**
 * A fan-out or roster read that failed every attempt (notification-deliveries-poison): its state
 * says so (`failed: "Poisoned"`, shown by the status; a new install or request starts it again).
 * False for anything else.
 */
export async function recordPoisonedWorkTask(
  value: unknown,
  context: InvocationContext,
  queue = DELIVERIES_QUEUE,
): Promise<boolean> {
  const poisoned = 'Poisoned';
  if (isChangeFanOutTask(value)) {
    const { contents } = services();
    const state = await contents.fanOut(value.tenantId, value.jobId);
    if (state?.id === value.fanOutId && !state.done) {
      await contents.saveFanOut(value.tenantId, value.jobId, { ...state, failed: poisoned }, state.etag);
    }
    reportPoisoned(queue, 'FanOutPoisoned', value.jobId, value.tenantId);
    context.warn(`${poisonQueueOf(queue)}: job ${value.jobId}: ${value.op} fan-out failed on every attempt`);
    return true;
  }
  if (isRosterTask(value)) {
    const { conversations } = services();
    const team = await conversations.getTeam(value.tenantId, value.teamId);
    if (team?.rosterSync?.id === value.syncId && !team.rosterSync.doneAt) {
      await conversations.saveTeamIf(
        { ...team, rosterSync: { ...team.rosterSync, failed: poisoned } },
        team.etag,
      );
    }
    reportPoisoned(queue, 'RosterPoisoned', undefined, value.tenantId);
    context.warn(`${poisonQueueOf(queue)}: a team's roster read failed on every attempt`);
    return true;
  }
  return false;
}
