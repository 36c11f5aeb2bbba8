import { ActivityTypes, type TurnContext } from 'botbuilder';

/** Universal Actions response types (Microsoft's "Universal Actions for Adaptive Cards" docs). */
const ACTIVITY_MESSAGE = 'application/vnd.microsoft.activity.message';

/**
 * Action.Execute (Universal Actions): Teams waits for an invoke response and shows an error for
 * anything but 200 with a card or a message. What a button records comes later; the contract holds now.
 */
export async function answerCardAction(context: TurnContext): Promise<void> {
  const value = (context.activity.value ?? {}) as { action?: { type?: unknown; verb?: unknown } };
  const body =
    value.action?.type === 'Action.Execute'
      ? { statusCode: 200, type: ACTIVITY_MESSAGE, value: 'Thanks, your response was received.' }
      : {
          statusCode: 400,
          type: 'application/vnd.microsoft.error',
          value: { code: 'BadRequest', message: 'value.action must be an Action.Execute' },
        };
  await context.sendActivity({ type: ActivityTypes.InvokeResponse, value: { status: 200, body } });
}
