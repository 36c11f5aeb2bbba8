/**
 * A batch's recipients are delivered in turn. Under a busy tenant's shared budget each one can wait
 * its turn for seconds, and 16 in a row could outlast the function timeout (host.json): after
 * `turnMs`, the recipients not yet started go back to the queue as a new message instead. Not after
 * a failure, though: the host then delivers the whole message again, and its dequeue count (which a
 * new message would reset) must keep counting towards the poison queue.
 */
export async function deliverInTurn<T>(
  items: readonly T[],
  deliver: (item: T) => Promise<void>,
  o: { turnMs: number; handBack: (rest: T[]) => Promise<void>; now?: () => number },
): Promise<{ failure?: unknown; handedBack: number }> {
  const now = o.now ?? (() => performance.now());
  const started = now();
  let failure: unknown;
  let failed = false;
  for (let i = 0; i < items.length; i++) {
    if (i > 0 && !failed && now() - started >= o.turnMs) {
      const rest = items.slice(i);
      await o.handBack(rest);
      return { handedBack: rest.length };
    }
    try {
      await deliver(items[i]!);
    } catch (err) {
      if (!failed) failure = err;
      failed = true;
    }
  }
  return failed ? { failure, handedBack: 0 } : { handedBack: 0 };
}
