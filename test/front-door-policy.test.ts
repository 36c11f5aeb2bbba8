import { describe, expect, it } from 'vitest';
import { admit, keyMatches, openDoor } from '../shared/auth/authenticate.js';
import type { EntraTokenVerifier } from '../shared/auth/entraTokens.js';
import { mayTouchJob, missingRole, ROLES, trustedCaller, type Caller } from '../shared/auth/roles.js';
import { refuseAddress, refuseCallbackUrl } from '../shared/callbacks/addressPolicy.js';
import { decideAfterAttempt, MAX_ATTEMPTS, retryAfterSeconds } from '../shared/callbacks/retry.js';
import { signatureOf, verifySignature } from '../shared/callbacks/signature.js';
import { loadConfig } from '../shared/config.js';
import { decideQuota, type QuotaStates } from '../shared/quotas/policy.js';

/** The front door's pure decisions (issue 25): roles and keys, quota math, callback address policy, signature, retries. */

const entraCaller = (
  id: string,
  ...roles: Caller['roles'] extends ReadonlySet<infer R> ? R[] : never
): Caller => ({
  kind: 'entra',
  id,
  appId: id,
  roles: new Set(roles),
});

describe('roles and keys', () => {
  const config = (env: Record<string, string>) => loadConfig({ PRODUCER_KEYS: 'k'.repeat(20), ...env });
  const verifier = (caller: Caller) => () =>
    ({ verify: async () => ({ ok: true, caller }) }) as unknown as EntraTokenVerifier;
  const entra = { PRODUCER_TOKEN_AUDIENCES: 'api://botid-x', PRODUCER_TOKEN_TENANTS: 't' };

  it('needs Send to send and change, Read (or Admin) to read; Admin sees every job', () => {
    const sender = entraCaller('a', ROLES.send);
    expect(missingRole(sender, 'send')).toBeUndefined();
    expect(missingRole(sender, 'read')).toBe(ROLES.read);
    expect(missingRole(entraCaller('a', ROLES.read), 'recall')).toBe(ROLES.send);
    expect(missingRole(entraCaller('a', ROLES.admin), 'update')).toBeUndefined();
    expect(mayTouchJob(sender, { kind: 'entra', id: 'a' })).toBe(true);
    expect(mayTouchJob(sender, { kind: 'entra', id: 'b' })).toBe(false);
    expect(mayTouchJob(sender, undefined)).toBe(false);
    expect(mayTouchJob(entraCaller('c', ROLES.admin), { kind: 'entra', id: 'b' })).toBe(true);
    expect(mayTouchJob(trustedCaller('key'), undefined)).toBe(true);
  });

  it('compares keys in constant time over digests, and PRODUCER_AUTH=entra turns keys off', async () => {
    expect(keyMatches('k'.repeat(20), ['x'.repeat(16), 'k'.repeat(20)])).toBe(true);
    expect(keyMatches('k'.repeat(19), ['k'.repeat(20)])).toBe(false);
    const withKey = await admit({ key: 'k'.repeat(20) }, 'send', config({}), () => undefined);
    expect(withKey.ok).toBe(true);
    const off = await admit(
      { key: 'k'.repeat(20) },
      'send',
      config({ PRODUCER_AUTH: 'entra', ...entra }),
      () => undefined,
    );
    expect(off).toMatchObject({
      ok: false,
      status: 401,
      errors: [expect.stringMatching(/keys are turned off/)],
    });
  });

  it('answers 401 to neither key nor token, except in the sandbox (nothing configured, outside Azure)', async () => {
    const none = await admit({}, 'read', config({}), () => undefined);
    expect(none).toMatchObject({ ok: false, status: 401 });
    const sandbox = loadConfig({});
    expect(openDoor(sandbox)).toBe(true);
    expect(await admit({}, 'send', sandbox, () => undefined)).toMatchObject({
      ok: true,
      caller: { kind: 'open' },
    });
    const azure = loadConfig({ WEBSITE_INSTANCE_ID: 'i' });
    expect(openDoor(azure)).toBe(false);
    expect(await admit({}, 'send', azure, () => undefined)).toMatchObject({ ok: false, status: 401 });
  });

  it('checks the role a verified token carries, and refuses tokens where only keys are allowed', async () => {
    const c = config(entra);
    const readOnly = await admit(
      { authorization: 'Bearer x' },
      'send',
      c,
      verifier(entraCaller('a', ROLES.read)),
    );
    expect(readOnly).toMatchObject({ ok: false, status: 403, error: 'RoleRequired' });
    const keysOnly = await admit(
      { authorization: 'Bearer x' },
      'send',
      config({ ...entra, PRODUCER_AUTH: 'key' }),
      verifier(entraCaller('a', ROLES.send)),
    );
    expect(keysOnly).toMatchObject({ ok: false, status: 401 });
    expect(await admit({ authorization: 'Basic abc' }, 'send', c, verifier(entraCaller('a')))).toMatchObject({
      status: 401,
    });
  });

  it('takes the App ID URI and app ID as audiences and the app tenant by default', () => {
    const c = loadConfig({
      MicrosoftAppId: 'app-1',
      MicrosoftAppTenantId: 'Tenant-1',
      MicrosoftAppPassword: 'p',
    });
    expect(c.producers.entra).toMatchObject({
      audiences: ['api://botid-app-1', 'app-1'],
      tenants: ['tenant-1'],
    });
    expect(() => loadConfig({ PRODUCER_KEYS: 'short' })).toThrow(/at least 16/);
    expect(() =>
      loadConfig({ ...entra, WEBSITE_SITE_NAME: 's', PRODUCER_OPENID_METADATA_URL: 'http://x/{tenantId}' }),
    ).toThrow(/https/);
  });
});

describe('quota math (one producer, any number of instances: only the schedule is shared)', () => {
  const limits = { jobsPerMinute: 3, recipientsPerHour: 600 };

  it('lets a burst of the limit through, then one more per window / limit, with the wait to Retry-After', () => {
    let states: QuotaStates = {};
    const now = 1_000_000;
    for (let i = 0; i < 3; i++) {
      const d = decideQuota(states, now, 1, limits);
      expect(d.ok, `job ${i + 1}`).toBe(true);
      if (d.ok) states = d.states;
    }
    const fourth = decideQuota(states, now, 1, limits);
    expect(fourth).toEqual({ ok: false, quota: 'jobs', limit: 3, retryAfterSeconds: 20 });
    expect(decideQuota(states, now + 19_000, 1, limits).ok).toBe(false);
    expect(decideQuota(states, now + 20_000, 1, limits).ok).toBe(true);
  });

  it('counts recipients per hour and refuses the job that would go over, without booking its job', () => {
    const first = decideQuota({}, 0, 500, limits);
    expect(first.ok).toBe(true);
    const second = decideQuota(first.ok ? first.states : {}, 0, 500, limits);
    expect(second).toMatchObject({ ok: false, quota: 'recipients', limit: 600 });
    expect(second.ok ? 0 : second.retryAfterSeconds).toBe(2400); // 400 recipients' worth at 6 s each
  });
});

describe('callback address policy', () => {
  const outside = { allowedHosts: ['hooks.contoso.com', '127.0.0.1:8443'], runsInAzure: false };
  const azure = { ...outside, runsInAzure: true };

  it('calls only hosts named in CALLBACK_ALLOWED_HOSTS, https in Azure, never with credentials', () => {
    expect(refuseCallbackUrl('https://hooks.contoso.com/done', azure)).toBeUndefined();
    expect(refuseCallbackUrl('https://evil.example/done', azure)).toMatch(/not in CALLBACK_ALLOWED_HOSTS/);
    expect(refuseCallbackUrl('http://hooks.contoso.com/done', azure)).toMatch(/https/);
    expect(refuseCallbackUrl('http://127.0.0.1:8443/x', outside)).toBeUndefined();
    expect(refuseCallbackUrl('http://127.0.0.1:9999/x', outside)).toMatch(/not in CALLBACK_ALLOWED_HOSTS/);
    expect(refuseCallbackUrl('https://user:pw@hooks.contoso.com/', azure)).toMatch(/user name or password/);
    expect(refuseCallbackUrl('ftp://hooks.contoso.com/', azure)).toMatch(/http or https/);
  });

  it('never reaches loopback, private or link-local addresses in Azure; loopback only outside Azure', () => {
    for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1'])
      expect([address, refuseAddress(address, azure)]).toEqual([address, expect.stringMatching(/loopback/)]);
    for (const address of ['127.0.0.1', '::1']) expect(refuseAddress(address, outside)).toBeUndefined();
    for (const address of [
      '10.1.2.3',
      '172.16.0.9',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      'fe80::1',
      'fd00::1',
      '::ffff:10.0.0.1',
      '224.0.0.1',
      '::',
    ]) {
      expect([address, refuseAddress(address, outside)]).toEqual([
        address,
        expect.stringMatching(/private|reserved/),
      ]);
    }
    for (const address of ['20.50.2.1', '2603:1020::1'])
      expect(refuseAddress(address, azure)).toBeUndefined();
  });
});

describe('callback signature and retries', () => {
  const secret = 's'.repeat(32);

  it('signs timestamp.body with HMAC-SHA256 and verifies it as docs/producers.md says', () => {
    const body = '{"specversion":"1.0"}';
    const signature = signatureOf(secret, 1_700_000_000, body);
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    const ok = (sig: string, ts: string, b: string, now = 1_700_000_100) =>
      verifySignature(secret, { signature: sig, timestamp: ts }, b, now);
    expect(ok(signature, '1700000000', body)).toBe(true);
    expect(ok(signature, '1700000000', `${body} `)).toBe(false);
    expect(ok(signature, '1700000001', body)).toBe(false);
    expect(ok(signature, '1700000000', body, 1_700_000_400)).toBe(false); // replayed too late
  });

  it('delivers on 2xx, gives up on a refusal, retries what may pass with growing waits', () => {
    expect(decideAfterAttempt({ kind: 'answered', status: 204 }, 1, 10)).toEqual({ do: 'delivered' });
    expect(decideAfterAttempt({ kind: 'answered', status: 404 }, 1, 10)).toMatchObject({ do: 'give-up' });
    expect(decideAfterAttempt({ kind: 'answered', status: 302 }, 1, 10)).toMatchObject({ do: 'give-up' });
    expect(decideAfterAttempt({ kind: 'refused', why: 'private' }, 1, 10)).toMatchObject({ do: 'give-up' });
    const waits = [1, 2, 3].map((n) => decideAfterAttempt({ kind: 'answered', status: 503 }, n, 10));
    expect(waits.map((w) => (w.do === 'retry' ? w.delaySeconds : 0))).toEqual([10, 30, 90]);
    expect(
      decideAfterAttempt({ kind: 'answered', status: 429, retryAfterSeconds: 120 }, 1, 10),
    ).toMatchObject({ delaySeconds: 120 });
    expect(decideAfterAttempt({ kind: 'unreachable', why: 'ECONNRESET' }, MAX_ATTEMPTS, 10)).toMatchObject({
      do: 'give-up',
    });
    expect(retryAfterSeconds('7', 0)).toBe(7);
    expect(retryAfterSeconds(new Date(60_000).toUTCString(), 0)).toBe(60);
  });
});
