import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { admit } from '../auth/authenticate.js';
import { EntraTokenVerifier } from '../auth/entraTokens.js';
import { mayTouchJob, ROLES, type Caller, type Operation, type ProducerRef } from '../auth/roles.js';
import type { AppConfig } from '../config.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';

/** The door of every notification route (shared/auth/authenticate.ts): the caller, or the answer refusing it. */

let verifier: { key: unknown; value: EntraTokenVerifier } | undefined;

function verifierFor(config: AppConfig): EntraTokenVerifier | undefined {
  const entra = config.producers.entra;
  if (!entra) return undefined;
  // One per settings object: its metadata and key caches live as long as the process.
  if (verifier?.key !== entra) verifier = { key: entra, value: new EntraTokenVerifier(entra) };
  return verifier.value;
}

export async function admitRequest(
  request: HttpRequest,
  op: Operation,
  config: AppConfig,
): Promise<{ caller: Caller } | { refused: HttpResponseInit }> {
  const result = await admit(
    {
      authorization: request.headers.get('authorization'),
      key: request.headers.get('x-functions-key') ?? request.query.get('code'),
    },
    op,
    config,
    () => verifierFor(config),
  );
  if (result.ok) return { caller: result.caller };
  // The reason code only: never the token, the key or what the token said.
  telemetry().event(EventNames.producerRefused, {
    operation: op,
    status: result.status,
    error: result.error,
  });
  return {
    refused: {
      status: result.status,
      headers: result.headers,
      jsonBody: { error: result.error, errors: result.errors },
    },
  };
}

/** A job of another producer: refused unless the caller is an admin (roles.ts). */
export function notOwner(caller: Caller, jobId: string, owner: ProducerRef | undefined) {
  if (mayTouchJob(caller, owner)) return undefined;
  return {
    status: 403,
    jsonBody: {
      error: 'NotJobOwner',
      errors: [
        `job ${jobId} was not sent by this producer; ${ROLES.admin} reads, updates and recalls every job`,
      ],
    },
  } satisfies HttpResponseInit;
}
