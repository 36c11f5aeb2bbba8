import type { CardElement } from 'adaptivecards';
import { parseJob, type ValidationResult } from './contract.js';

/**
 * Checks an Adaptive Card with Microsoft's Adaptive Cards SDK (`adaptivecards`), the library Teams'
 * web client renders with, so a card is refused for the reasons the SDK gives rather than ours.
 * Refused: what the SDK reports as invalid (missing card type, unsupported version, required
 * properties, duplicate IDs...) and a card that would render nothing (no body and no actions, only
 * unknown elements without fallback, text blocks without text). Loaded on first use: the SDK is
 * ~300 KB of JavaScript and most jobs carry no card.
 */

type AdaptiveCards = typeof import('adaptivecards');
let sdk: Promise<AdaptiveCards> | undefined;

async function load(): Promise<AdaptiveCards> {
  sdk ??= import('adaptivecards/dist/adaptivecards.js').then(
    (m) => ((m as { default?: AdaptiveCards }).default ?? m) as AdaptiveCards,
  );
  return sdk;
}

/** Validation events that do not stop a card from rendering as intended. */
const ADVISORY = new Set([
  'Hint',
  'Deprecated',
  'RequiredInputsShouldHaveLabel',
  'RequiredInputsShouldHaveErrorMessage',
]);

function renders(element: CardElement): boolean {
  if (!element.isVisible) return false;
  const container = element as CardElement & {
    getItemCount?: () => number;
    getItemAt?: (i: number) => CardElement;
  };
  if (typeof container.getItemCount === 'function' && typeof container.getItemAt === 'function') {
    for (let i = 0; i < container.getItemCount(); i++) if (renders(container.getItemAt(i))) return true;
    return false;
  }
  if (element.getJsonTypeName() === 'TextBlock') {
    return !!(element as CardElement & { text?: string }).text?.trim();
  }
  return true;
}

/** The SDK's messages for a card that must not be sent; empty when the card is fine. */
async function cardProblems(card: unknown): Promise<string[]> {
  const AC = await load();
  const parsed = new AC.AdaptiveCard();
  const context = new AC.SerializationContext();
  try {
    // A plain JSON copy: the SDK calls Object.prototype methods on what it parses.
    parsed.parse(JSON.parse(JSON.stringify(card)) as Record<string, unknown>, context);
  } catch (err) {
    return [`/message/card: the Adaptive Cards SDK cannot parse it: ${(err as Error).message}`];
  }
  const problems: string[] = [];
  const parseNotes: string[] = [];
  for (let i = 0; i < context.eventCount; i++) {
    const event = context.getEventAt(i);
    parseNotes.push(`/message/card: ${event.message}`);
  }
  for (const event of parsed.validateProperties().validationEvents) {
    if (!ADVISORY.has(AC.ValidationEvent[event.event])) problems.push(`/message/card: ${event.message}`);
  }
  let visible = parsed.getActionCount() > 0;
  for (let i = 0; !visible && i < parsed.getItemCount(); i++) visible = renders(parsed.getItemAt(i));
  if (!visible) {
    problems.push(
      '/message/card: the card would render nothing (no actions, and no element with content: empty body, text blocks without text, or only unknown elements without fallback)',
      ...parseNotes,
    );
  }
  return [...new Set(problems)];
}

/** parseJob, then the card check (async: the SDK loads on first use). */
export async function parseAndCheckCard(input: unknown): Promise<ValidationResult> {
  const result = parseJob(input);
  if (!result.ok || !result.job.message.card) return result;
  const problems = await cardProblems(result.job.message.card);
  return problems.length
    ? {
        ok: false,
        reason: 'CardInvalid',
        errors: problems,
        jobId: result.job.id,
        tenantId: result.job.tenantId,
      }
    : result;
}
