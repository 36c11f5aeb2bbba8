/**
 * A function handler whose module is imported on its first invocation. Registration then costs only
 * `@azure/functions` and this file, so the host starts fast; the bot stack (botbuilder) and the storage
 * SDKs load on the path that needs them. A failed import is retried on the next invocation.
 */
export function lazy<A extends unknown[], R>(
  load: () => Promise<(...args: A) => Promise<R>>,
): (...args: A) => Promise<R> {
  let loading: Promise<(...args: A) => Promise<R>> | undefined;
  return async (...args) => {
    loading ??= load().catch((err: unknown) => {
      loading = undefined;
      throw err;
    });
    return await (
      await loading
    )(...args);
  };
}
