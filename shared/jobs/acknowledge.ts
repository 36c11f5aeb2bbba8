import type { NotificationMessage } from './contract.js';

/**
 * The acknowledgement button a job may ask for ("acknowledge": true or { "title": ... }): an
 * Action.Execute (Universal Actions) added to the message's card; a text message becomes a card that
 * keeps the text. Teams then sends the press to the bot as an `adaptiveCard/action` invoke with this
 * verb and data, and shows the card the bot answers with (functions/messages/acknowledgements.ts).
 * https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards
 */

export const ACK_VERB = 'teamsNotifier.acknowledge';
export const DEFAULT_ACK_TITLE = 'Acknowledge';
/** Action.Execute needs Adaptive Cards 1.4 (Teams' Universal Actions requirement). */
const UNIVERSAL_ACTIONS_VERSION = '1.4';

type Card = Record<string, unknown> & { body?: unknown[]; actions?: unknown[] };

function textCard(message: NotificationMessage): Card {
  return {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: UNIVERSAL_ACTIONS_VERSION,
    body: [{ type: 'TextBlock', text: message.text ?? '', wrap: true }],
  };
}

function atLeast14(version: unknown): string {
  const v = typeof version === 'string' ? Number.parseFloat(version) : NaN;
  return Number.isFinite(v) && v >= 1.4 ? String(version) : UNIVERSAL_ACTIONS_VERSION;
}

/**
 * What a Teams client that cannot render the Action.Execute shows instead. Microsoft: with a card
 * version below 1.5, "to ensure maximum compatibility in Teams, define Action.Execute with an
 * Action.Submit in the fallback property", and the bot processes both (Work with Universal Actions,
 * "Backward compatibility"). An `invoke`-type Action.Submit reaches the bot as an invoke without a
 * name whose value is msteams.value (Card actions, "invoke"; the Teams SDK's InvokeAction), so the
 * press is recorded like the Action.Execute one; Teams cannot replace the card after an Action.Submit.
 */
function submitFallback(title: string, jobId: string) {
  return {
    type: 'Action.Submit',
    title,
    data: { msteams: { type: 'invoke', value: { verb: ACK_VERB, jobId } } },
  };
}

/** The message with its acknowledgement button; the card's own actions stay before it. */
export function withAcknowledgeButton(
  message: NotificationMessage,
  jobId: string,
  title: string = DEFAULT_ACK_TITLE,
): NotificationMessage {
  const base: Card = message.card ? { ...(message.card as Card) } : textCard(message);
  const card: Card = {
    ...base,
    version: atLeast14(base.version),
    actions: [
      ...(Array.isArray(base.actions) ? base.actions : []),
      {
        type: 'Action.Execute',
        title,
        verb: ACK_VERB,
        data: { jobId },
        fallback: submitFallback(title, jobId),
      },
    ],
  };
  // The text moved into the card when there was no card; a card's own text stays beside it.
  const out: NotificationMessage = { card };
  if (message.card && message.text) out.text = message.text;
  if (message.summary) out.summary = message.summary;
  return out;
}

/** The card a recipient sees after pressing: the same content, the button replaced by a note. */
export function acknowledgedCard(message: NotificationMessage | undefined, at: string): Card {
  const base: Card = message?.card ? { ...(message.card as Card) } : textCard(message ?? {});
  const actions = (Array.isArray(base.actions) ? base.actions : []).filter(
    (a) => (a as { verb?: unknown }).verb !== ACK_VERB,
  );
  const note = {
    type: 'TextBlock',
    text: `✅ Acknowledged ${at.slice(0, 16).replace('T', ' ')} UTC`,
    wrap: true,
    isSubtle: true,
  };
  const card: Card = { ...base, body: [...(Array.isArray(base.body) ? base.body : []), note] };
  if (actions.length) card.actions = actions;
  else delete card.actions;
  return card;
}

/** A card that only says something (a press on a recalled or unknown notification, a refusal). */
export function noticeCard(text: string): Card {
  return textCard({ text });
}

type Press = { verb?: unknown; jobId?: unknown; action?: { type?: unknown; verb?: unknown; data?: unknown } };

/**
 * The job ID an acknowledgement press carries, or undefined when the invoke is not ours: the
 * Action.Execute's `value.action` {verb, data: {jobId}}, or its fallback's value {verb, jobId}.
 */
export function acknowledgedJobId(value: unknown): string | undefined {
  const press = (value ?? undefined) as Press | undefined;
  const action = press?.action;
  const { verb, jobId } =
    action?.type === 'Action.Execute'
      ? { verb: action.verb, jobId: (action.data as { jobId?: unknown } | undefined)?.jobId }
      : { verb: press?.verb, jobId: press?.jobId };
  if (verb !== ACK_VERB) return undefined;
  return typeof jobId === 'string' && jobId ? jobId : undefined;
}
