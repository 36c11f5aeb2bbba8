import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The callbacks' signature: HMAC-SHA256 with CALLBACK_SIGNING_SECRET over `<timestamp>.<body>`, the
 * timestamp (Unix seconds) in its own header so a receiver can refuse old replays. docs/producers.md
 * shows the check in JavaScript and Python.
 */
export const SIGNATURE_HEADER = 'x-notifier-signature';
export const TIMESTAMP_HEADER = 'x-notifier-timestamp';

export const signatureOf = (secret: string, timestamp: number, body: string) =>
  `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;

/** The receiver's side, as docs/producers.md describes it (used by the tests' receiver). */
export function verifySignature(
  secret: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const timestamp = Number(headers.timestamp);
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(signatureOf(secret, timestamp, body));
  const given = Buffer.from(headers.signature ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
