import { describe, expect, it } from 'vitest';
import { explainedByCrash, mismatchExplainedByCrash, runSoak } from '../bench/soak.js';

/**
 * Issue 6: the shortened soak. 500 deliveries through the local host as its own process, against an
 * on-disk Azurite and the fault-injecting connector; the host is SIGKILLed once, its worker restarted
 * twice as at a function timeout, and Azurite restarted once. Rate limits are Teams' × 4 and queue retries quick so it takes well under a minute.
 */
describe('soak under faults (shortened)', () => {
  it('loses nothing and every duplicate is explained by the crash window', { timeout: 180_000 }, async () => {
    const lines: string[] = [];
    const report = await runSoak({
      deliveries: 500,
      timeScale: 4,
      // An answer later than this is lost to the app, and its retry a duplicate (as in Azure). On 2 busy
      // cores an answer can take over a second: 1 s here made such duplicates.
      connectorTimeoutMs: 5000,
      queueLeaseMs: 8000,
      visibilityTimeoutMs: 1000,
      maxPollingIntervalMs: 500,
      quiescenceTimeoutMs: 120_000,
      // More 403s/404s than the default so a short run surely has some.
      faults: {
        p5xx: 0.05,
        p429WithRetryAfter: 0.02,
        p429NoRetryAfter: 0.01,
        pTimeout: 0.01,
        p403: 0.01,
        p404: 0.01,
      },
      log: (line) => lines.push(line),
    });
    const context = JSON.stringify(
      { problems: report.problems, lost: report.lost.slice(0, 5), dup: report.duplicates, log: lines },
      null,
      1,
    );

    // The faults really happened.
    expect(report.events.map((e) => e.kind).sort(), context).toEqual([
      'azurite-restart',
      'host-sigkill',
      'worker-restart',
      'worker-restart',
    ]);
    const f = report.connector.faults;
    expect(f['random:429'] ?? 0).toBeGreaterThan(0);
    expect(f['random:429-no-retry-after'] ?? 0).toBeGreaterThan(0);
    expect(Object.keys(f).filter((k) => /^random:5\d\d$/.test(k)).length).toBeGreaterThan(0);
    expect(f['random:timeout'] ?? 0).toBeGreaterThan(0);
    expect(f['random:403'] ?? 0).toBeGreaterThan(0);

    // Nothing lost, no unexplained duplicate, every delivery accounted for.
    expect(report.quiescent, context).toBe(true);
    expect(report.lost, context).toEqual([]);
    expect(report.duplicates.unexplained, context).toEqual([]);
    expect(report.mismatched.unexplained, context).toEqual([]);
    expect(report.expected).toBe(500);
    expect(
      report.exactlyOnce +
        report.duplicates.total +
        report.mismatched.total +
        report.failed.total +
        report.skipped.total,
      context,
    ).toBe(report.expected);
    // 403s fail permanently, with Teams' code as the reason.
    expect(report.failed.total).toBeGreaterThan(0);
    expect(Object.keys(report.failed.byReason).join(',')).toMatch(
      /ConversationBlockedByUser|BotNotInConversationRoster|BotDisabledByAdmin|ForbiddenOperationException/,
    );
    expect(report.problems, context).toEqual([]);
  });
});

describe('which duplicates the crash window explains', () => {
  const kill = Date.parse('2026-01-01T10:00:00Z');
  const record = (claimedAt: string, attempts: number) => ({
    jobId: 'j',
    recipient: 'userId:u',
    status: 'sent',
    claimedAt,
    attempts,
  });
  it('explains a copy sent before a kill and resent by the takeover after it', () => {
    expect(explainedByCrash([kill - 50, kill + 9000], record('2026-01-01T10:00:08Z', 2), [kill])).toBe(true);
  });
  it('does not explain copies with no kill between them, or a record claimed only once', () => {
    expect(explainedByCrash([kill + 10, kill + 9000], record('2026-01-01T10:00:08Z', 2), [kill])).toBe(false);
    expect(explainedByCrash([kill - 50, kill + 9000], record('2026-01-01T10:00:08Z', 1), [kill])).toBe(false);
    expect(explainedByCrash([kill - 50, kill + 9000], record('2026-01-01T09:59:59Z', 2), [kill])).toBe(false);
    expect(
      explainedByCrash([kill - 50, kill + 10, kill + 9000], record('2026-01-01T10:00:08Z', 3), [kill]),
    ).toBe(false);
  });
});

describe('which record that disagrees with Teams the crash window explains', () => {
  const kill = Date.parse('2026-01-01T10:00:00Z');
  const failed = (completedAt: string) => ({
    jobId: 'j',
    recipient: 'userId:u',
    status: 'failed',
    reason: 'RecipientInactive',
    claimedAt: '2026-01-01T09:59:58Z',
    completedAt,
    attempts: 1,
  });
  it('explains a copy sent just before a kill, whose retry after it found the recipient inactive', () => {
    expect(mismatchExplainedByCrash([kill - 50], failed('2026-01-01T10:00:09Z'), [kill])).toBe(true);
  });
  it('does not explain a copy sent after the kill, or a record written before it', () => {
    expect(mismatchExplainedByCrash([kill + 50], failed('2026-01-01T10:00:09Z'), [kill])).toBe(false);
    expect(mismatchExplainedByCrash([kill - 50], failed('2026-01-01T09:59:59Z'), [kill])).toBe(false);
    expect(mismatchExplainedByCrash([kill - 50], failed('2026-01-01T10:00:09Z'), [])).toBe(false);
  });
});
