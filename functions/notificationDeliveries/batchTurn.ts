/**
 * A batch's recipients are delivered in turn, within the invocation's deadline. The turn ends early:
 * - when the deadline is near: the recipients not started yet go back as a new message (`rest`);
 * - at the first failure: the failing recipient is handed back (`failed`) and the recipients after it
 *   go back untouched (`rest`), so one recipient that keeps failing never holds the others up, and
 *   only its own attempts count towards the poison queue (the handler carries them in its message).
 */
export interface Turn<T> {
  failed?: { item: T; error: unknown } | undefined;
  /** Not started: back to the queue as they were. */
  rest: T[];
}

export async function deliverInTurn<T>(
  items: readonly T[],
  deliver: (item: T) => Promise<void>,
  o: { mayStart: () => boolean },
): Promise<Turn<T>> {
  for (let i = 0; i < items.length; i++) {
    // The first recipient always starts: a message that never gets anywhere would loop forever.
    if (i > 0 && !o.mayStart()) return { rest: items.slice(i) };
    try {
      await deliver(items[i]!);
    } catch (error) {
      return { failed: { item: items[i]!, error }, rest: items.slice(i + 1) };
    }
  }
  return { rest: [] };
}
