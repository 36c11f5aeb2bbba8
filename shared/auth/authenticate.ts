import { createHash, timingSafeEqual } from 'node:crypto';
import type { AppConfig } from '../config.js';
import type { EntraTokenVerifier } from './entraTokens.js';
import { missingRole, trustedCaller, type Caller, type Operation } from './roles.js';

/**
 * Who calls a notification route. The routes are anonymous to the Functions host (so a Microsoft
 * Entra token can reach them without a function key) and this is their only door: a bearer token
 * (checked by entraTokens.ts), else a key (`x-functions-key` or `?code=`, as function keys are sent)
 * from PRODUCER_KEYS, else 401. Only outside Azure, with neither keys nor Entra configured (the
 * sandbox), is every request let in, as the local host lets every request in without FUNCTIONS_KEY.
 */

export type Admission =
  | { ok: true; caller: Caller }
  | { ok: false; status: 401 | 403; error: string; errors: string[]; headers: Record<string, string> };

export interface Credentials {
  authorization?: string | null | undefined;
  key?: string | null | undefined;
}

type Settings = Pick<AppConfig, 'producers' | 'runsInAzure'>;

/** No way in is configured: the sandbox lets everyone in; Azure no one. */
export function openDoor(config: Settings): boolean {
  const p = config.producers;
  const keys = p.auth !== 'entra' && p.keys.length > 0;
  const tokens = p.auth !== 'key' && !!p.entra;
  return !keys && !tokens && !config.runsInAzure;
}

const REALM = 'Bearer realm="teams-notifier"';
const unauthorized = (why: string, tokenError = false): Admission => ({
  ok: false,
  status: 401,
  error: 'Unauthorized',
  errors: [why],
  headers: {
    'www-authenticate': tokenError
      ? `${REALM}, error="invalid_token", error_description="${why.replace(/"/g, "'")}"`
      : REALM,
  },
});

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Constant-time over equal-length digests, so a key's length or prefix does not show in timing. */
export function keyMatches(given: string, keys: readonly string[]): boolean {
  const mine = digest(given);
  return keys.reduce((found, key) => timingSafeEqual(mine, digest(key)) || found, false);
}

export async function admit(
  credentials: Credentials,
  op: Operation,
  config: Settings,
  verifier: () => EntraTokenVerifier | undefined,
): Promise<Admission> {
  const caller = await authenticate(credentials, config, verifier);
  if (!caller.ok) return caller;
  const role = missingRole(caller.caller, op);
  if (!role) return caller;
  return {
    ok: false,
    status: 403,
    error: 'RoleRequired',
    errors: [`this needs the app role ${role}, which the token does not carry`],
    headers: { 'www-authenticate': `${REALM}, error="insufficient_scope"` },
  };
}

async function authenticate(
  { authorization, key }: Credentials,
  config: Settings,
  verifier: () => EntraTokenVerifier | undefined,
): Promise<Admission> {
  if (openDoor(config)) return { ok: true, caller: trustedCaller('open') };
  const p = config.producers;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (authorization && !bearer) return unauthorized('the Authorization header must be "Bearer <token>"');
  if (bearer) {
    const entra = p.auth !== 'key' ? verifier() : undefined;
    if (!entra) return unauthorized('Microsoft Entra tokens are not accepted by this deployment');
    const checked = await entra.verify(bearer);
    return checked.ok ? { ok: true, caller: checked.caller } : unauthorized(checked.why, true);
  }
  if (key) {
    if (p.auth === 'entra') return unauthorized('keys are turned off here: sign in with Microsoft Entra ID');
    if (keyMatches(key, p.keys)) return { ok: true, caller: trustedCaller('key') };
    return unauthorized('the key is not valid');
  }
  return unauthorized(
    p.auth === 'entra'
      ? 'sign in: Authorization: Bearer <Microsoft Entra token for this app>'
      : 'sign in: Authorization: Bearer <Microsoft Entra token>, or the x-functions-key header',
  );
}
