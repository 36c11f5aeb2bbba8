import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A clock that tests can move days ahead in other processes (Azurite, a local host): a module
 * preloaded with `--import` makes `Date` read an offset from its file, re-read every 50 ms. Every
 * process given it agrees on the time, so messages hidden for a week come back, or expire, as they
 * would a week later. Timers (setTimeout) are left alone: only the calendar moves.
 */
const preload = (offsetFile: string) => `
import { readFileSync } from 'node:fs';
const file = ${JSON.stringify(offsetFile)};
const RealDate = Date;
const realNow = RealDate.now.bind(RealDate);
let offset = 0;
let readAt = -Infinity;
const now = () => {
  const t = realNow();
  if (t - readAt > 50) {
    readAt = t;
    try { offset = Number(readFileSync(file, 'utf8')) || 0; } catch { /* keep the last offset */ }
  }
  return t + offset;
};
globalThis.Date = new Proxy(RealDate, {
  construct: (target, args, newTarget) => Reflect.construct(target, args.length ? args : [now()], newTarget),
  apply: () => new RealDate(now()).toString(),
  get: (target, prop, receiver) => (prop === 'now' ? now : Reflect.get(target, prop, receiver)),
});
`;

export interface MovableClock {
  /** Node arguments and settings that make a process read this clock. */
  nodeArgs: string[];
  env: Record<string, string>;
  /** Moves every such process's clock to `ms` past the real time. */
  set(ms: number): void;
}

export function movableClock(): MovableClock {
  const dir = mkdtempSync(path.join(tmpdir(), 'clock-'));
  const module = path.join(dir, 'clock.mjs');
  const offsetFile = path.join(dir, 'offset');
  writeFileSync(module, preload(offsetFile));
  writeFileSync(offsetFile, '0');
  return {
    nodeArgs: ['--import', module],
    env: { NODE_OPTIONS: `--import ${module}` },
    set: (ms) => writeFileSync(offsetFile, String(ms)),
  };
}
