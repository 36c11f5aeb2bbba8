import type { InvocationContext } from '@azure/functions';
import { services } from '../../shared/container.js';
import { isChangeFanOutTask, runChangeFanOut } from '../../shared/followUps/changeFanOut.js';
import { isRosterTask, runRosterTask } from '../../shared/roster/rosterTask.js';
import { EventNames, telemetry } from '../../shared/telemetry/telemetry.js';

/**
 * The long work that request handlers queue instead of doing (issue 22): an update's or recall's
 * fan-out (shared/followUps/changeFanOut.ts) and a team's roster read after an install
 * (shared/roster/rosterTask.ts). Both are on the deliveries queue beside deliveries and change
 * tasks; what is left after a time budget comes back as a new message. False for anything else.
 */
export async function handleWorkTask(value: unknown, context: InvocationContext): Promise<boolean> {
  if (isChangeFanOutTask(value)) {
    const result = await runChangeFanOut(value, services());
    const what = `job ${value.jobId}: ${value.op} fan-out`;
    if (result.kind === 'again') {
      await services().deliveryQueue.send(value, result.delayMs);
      context.log(`${what}: continues in ${result.delayMs} ms (${result.reason})`);
    } else {
      context.log(`${what}: ${result.reason}, ${result.queued} change tasks queued`);
    }
    return true;
  }
  if (isRosterTask(value)) {
    const { conversations, config } = services();
    // botbuilder is loaded only when a roster is read.
    const { teamsRosterReader } = await import('../../shared/roster/refresh.js');
    const result = await runRosterTask(value, { conversations, reader: teamsRosterReader(config) });
    if (result.kind === 'again') {
      await services().deliveryQueue.send(value);
      context.log(`team roster read: ${result.members} members so far; continues as a new message`);
      return true;
    }
    if (result.reason === 'Done') {
      telemetry().event(
        EventNames.rosterRead,
        { tenantId: value.tenantId, scope: 'team' },
        { members: result.members },
      );
    }
    context.log(`team roster read: ${result.reason} (${result.members} members)`);
    return true;
  }
  return false;
}
