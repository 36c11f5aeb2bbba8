import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { refuseAddress, type CallbackPolicy } from './addressPolicy.js';
import { retryAfterSeconds, type AttemptResult } from './retry.js';

/**
 * One POST of a CloudEvent to a callback URL: the host is resolved, every address it has checked
 * (addressPolicy.ts), and the connection made to the checked address (a pinned `lookup`), so a DNS
 * answer changed after the check (rebinding) cannot reach another address. TLS still verifies the
 * certificate for the host name. Redirects are not followed.
 */

const TIMEOUT_MS = 10_000;

async function addressOf(hostname: string, policy: Pick<CallbackPolicy, 'runsInAzure'>) {
  const bare = hostname.replace(/^\[|\]$/g, '');
  const found = isIP(bare)
    ? [{ address: bare, family: isIP(bare) }]
    : await lookup(bare, { all: true, verbatim: true });
  if (!found.length) return { ok: false as const, result: unreachable(`${hostname} has no address`) };
  for (const { address } of found) {
    const why = refuseAddress(address, policy);
    if (why) return { ok: false as const, result: { kind: 'refused' as const, why: `${hostname}: ${why}` } };
  }
  return { ok: true as const, address: found[0]!.address, family: found[0]!.family };
}

const unreachable = (why: string): AttemptResult => ({ kind: 'unreachable', why });

export async function postEvent(
  url: string,
  body: string,
  headers: Record<string, string>,
  policy: Pick<CallbackPolicy, 'runsInAzure'>,
): Promise<AttemptResult> {
  const target = new URL(url);
  let resolved;
  try {
    resolved = await addressOf(target.hostname, policy);
  } catch (err) {
    return { kind: 'unreachable', why: `DNS: ${(err as NodeJS.ErrnoException).code ?? 'lookup failed'}` };
  }
  if (!resolved.ok) return resolved.result;
  const { address, family } = resolved;
  const pinned: LookupFunction = (_host, options, callback) => {
    if (options.all)
      (callback as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [
        { address, family },
      ]);
    else callback(null, address, family);
  };
  const client = target.protocol === 'https:' ? https : http;
  return new Promise<AttemptResult>((resolve) => {
    const request = client.request(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        lookup: pinned,
        timeout: TIMEOUT_MS,
        agent: false,
      },
      (response) => {
        response.resume(); // the answer's body is not read
        const retry = response.headers['retry-after'];
        resolve({
          kind: 'answered',
          status: response.statusCode ?? 0,
          retryAfterSeconds: retryAfterSeconds(Array.isArray(retry) ? retry[0] : retry, Date.now()),
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error('no answer within 10 s')));
    request.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ kind: 'unreachable', why: err.code ?? err.message }),
    );
    request.end(body);
  });
}
