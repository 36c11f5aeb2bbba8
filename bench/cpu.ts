import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds (user + system) a process has used so far, from Linux /proc; undefined elsewhere or once it is gone. */
export function cpuSecondsOf(pid: number | undefined): number | undefined {
  return statOf(pid)?.own;
}

/**
 * The same for a process and its children, live or ended: the local host runs the app in a language
 * worker process of its own (and restarts it), so the host's figure is the host's and its workers'.
 */
export function cpuSecondsOfTree(pid: number | undefined): number | undefined {
  const stat = statOf(pid);
  if (!stat) return undefined;
  let total = stat.own + stat.endedChildren;
  for (const child of childrenOf(pid!)) total += cpuSecondsOfTree(child) ?? 0;
  return total;
}

function statOf(pid: number | undefined): { own: number; endedChildren: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name: utime, stime, cutime and cstime are the 12th to 15th, in clock
    // ticks (100/s); cutime and cstime count the children that ended and were waited for.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return {
      own: (Number(fields[11]) + Number(fields[12])) / 100,
      endedChildren: (Number(fields[13]) + Number(fields[14])) / 100,
    };
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}
