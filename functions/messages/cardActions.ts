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

/**
 * The other invokes a button or input of an Adaptive Card in a chat makes Teams send, and the 200
 * each gets: the app opens no dialogs, searches nothing and signs no one in, so the answer says so
 * in the form Teams shows instead of its "something went wrong" (a 501). The invoke without a name
 * (an `invoke` card action) is routed in teamsBot.ts.
 * - task/fetch: Action.Submit with data.msteams.type "task/fetch" (or an invoke card action whose
 *   value.type is "task/fetch"); task/submit: a dialog's card submitted (Microsoft's typeahead
 *   example card also has an invoke action with value.type "task/submit"). `{task: {type:
 *   "message", value}}` is shown in a popup; no body is "the simplest response" to a submit. Use
 *   dialogs with bots:
 *   https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/task-modules/task-modules-bots
 *   and botframework-schema's TaskModuleMessageResponse.
 * - application/search: Input.ChoiceSet with `choices.data` (Data.Query) while the user types; the
 *   answer is a search response with its results. Typeahead search in Adaptive Cards:
 *   https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/dynamic-search
 * - signin/verifyState: the end of a sign-in opened by Action.Submit with data.msteams.type
 *   "signin" (value.state, botframework-schema's SigninStateVerificationQuery); botbuilder answers a
 *   handled one with a bare 200 (ActivityHandler.onInvokeActivity).
 */
const OTHER_CARD_INVOKES: Record<string, { body?: unknown; says: string }> = {
  'task/fetch': {
    body: { task: { type: 'message', value: 'This button opens nothing: Teams Notifier has no dialogs.' } },
    says: 'no dialog',
  },
  'task/submit': { says: 'nothing to submit to' },
  'application/search': {
    body: { type: 'application/vnd.microsoft.search.searchResponse', value: { results: [] } },
    says: 'no results',
  },
  'signin/verifyState': { says: 'no sign-in' },
};

/** The answer to another card invoke named `name`, or undefined when no card sends it. */
export function otherCardInvoke(name: string) {
  const known = Object.hasOwn(OTHER_CARD_INVOKES, name) ? OTHER_CARD_INVOKES[name] : undefined;
  if (!known) return undefined;
  return async (context: TurnContext) => {
    const value = known.body === undefined ? { status: 200 } : { status: 200, body: known.body };
    await context.sendActivity({ type: ActivityTypes.InvokeResponse, value });
    return `card invoke ${name}: answered 200 (${known.says})`;
  };
}
