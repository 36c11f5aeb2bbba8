import { readFileSync } from 'node:fs';

/** The host.json values the code itself must agree with (the host applies them; delivery records need them). */
export interface QueueHostSettings {
  maxDequeueCount: number;
}

export function readQueueHostSettings(hostJsonUrl = new URL('../../host.json', import.meta.url)): QueueHostSettings {
  try {
    const host = JSON.parse(readFileSync(hostJsonUrl, 'utf8')) as {
      extensions?: { queues?: { maxDequeueCount?: number } };
    };
    return { maxDequeueCount: host.extensions?.queues?.maxDequeueCount ?? 5 };
  } catch {
    return { maxDequeueCount: 5 };
  }
}
