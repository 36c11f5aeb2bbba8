import schema from './notification-job.v1.schema.json' with { type: 'json' };

/**
 * A Teams user or team ID as the job contract bounds it (the schema's `userId` pattern): printable
 * ASCII, 1 to 256 characters. IDs from activities and rosters are held to it too before they are
 * stored, so every stored key is bounded (azureStorage/table.ts keyPart).
 */
type Field = { pattern: string; maxLength?: number };
const forms = schema.properties.recipients.items.oneOf as unknown as Array<{
  properties: Record<string, Field>;
}>;
const ruleOf = (index: number, name: string): RegExp => {
  const field = forms[index]!.properties[name]!;
  // A maxLength beside the pattern becomes a lookahead, so one regex says all.
  return new RegExp(field.maxLength ? `(?=^.{1,${field.maxLength}}$)${field.pattern}` : field.pattern);
};
export const TEAMS_ID = ruleOf(0, 'userId');
/** An AAD object ID and a UPN as the contract bounds them (the schema's patterns). */
export const AAD_OBJECT_ID = ruleOf(1, 'aadObjectId');
export const UPN = ruleOf(2, 'upn');
/** A tenant ID and a job ID as the contract bounds them (the schema's patterns). */
export const TENANT_ID = new RegExp(schema.properties.tenantId.pattern);
export const JOB_ID = new RegExp(schema.properties.id.pattern);

/** How a job names a recipient: one of three Teams/Entra identifiers. */
export type RecipientRef = { userId: string } | { aadObjectId: string } | { upn: string };
type RecipientKind = 'userId' | 'aadObjectId' | 'upn';

export interface RecipientKey {
  kind: RecipientKind;
  value: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function toRecipientKey(ref: RecipientRef): RecipientKey {
  if ('userId' in ref) return { kind: 'userId', value: ref.userId.trim() };
  if ('aadObjectId' in ref) return { kind: 'aadObjectId', value: ref.aadObjectId.trim().toLowerCase() };
  return { kind: 'upn', value: ref.upn.trim().toLowerCase() };
}

export function recipientKeyString(key: RecipientKey): string {
  return `${key.kind}:${key.value}`;
}

export function parseRecipientKeyString(text: string): RecipientKey {
  const at = text.indexOf(':');
  const kind = text.slice(0, at) as RecipientKind;
  return { kind, value: text.slice(at + 1) };
}

/** Guesses the kind of a bare identifier (CLI `--to`): GUID → AAD object ID, has @ → UPN, else Teams user ID. */
export function guessRecipient(text: string): RecipientRef {
  const value = text.trim();
  if (GUID.test(value)) return { aadObjectId: value };
  if (value.includes('@')) return { upn: value };
  return { userId: value };
}
