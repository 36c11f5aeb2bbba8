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
