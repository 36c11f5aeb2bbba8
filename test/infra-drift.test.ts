import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/app.js';
import { checkInfraDrift, readRepoFiles, type RepoFiles } from './support/infraDrift.js';

/**
 * The infra (infra/*.bicep, read as text: the Bicep compiler is not installable here) cannot drift
 * from the code. Each check is shown to fail on a mutated copy, so a pass means something.
 */

const files = readRepoFiles(ROOT);

function mutate(change: Partial<RepoFiles> | ((f: RepoFiles) => Partial<RepoFiles>)): string[] {
  const copy = structuredClone(files);
  return checkInfraDrift({ ...copy, ...(typeof change === 'function' ? change(copy) : change) });
}

function without(text: string, line: RegExp): string {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => line.test(l));
  if (at < 0) throw new Error(`no line matches ${line}`); // the mutation itself must apply
  lines.splice(at, 1);
  return lines.join('\n');
}

/** A change to one source file (the replacement must apply). */
function editSource(file: string, from: string, to: string) {
  return (f: RepoFiles): Partial<RepoFiles> => {
    const text = f.sources[file]!;
    if (!text.includes(from)) throw new Error(`${file} has no ${from}`);
    return { sources: { ...f.sources, [file]: text.replace(from, to) } };
  };
}

describe('infra against the code', () => {
  it('has no drift', () => {
    expect(checkInfraDrift(files)).toEqual([]);
  });

  it('fails when an app setting is removed from the infra', () => {
    const problems = mutate((f) => ({ resourcesBicep: without(f.resourcesBicep, /^\s+MicrosoftAppId:/) }));
    expect(problems).toContain(
      'MicrosoftAppId (read in shared/config.ts) is neither set by infra/resources.bicep nor documented in docs/deploy-settings.md',
    );
    const storage = mutate((f) => ({
      resourcesBicep: without(f.resourcesBicep, /^\s+AzureWebJobsStorage__queueServiceUri:/),
    }));
    expect(storage).toContain('AzureWebJobsStorage__queueServiceUri is not set: the queue service is used');
  });

  it('fails when the code reads a new setting that is neither set nor documented', () => {
    const problems = mutate((f) => ({
      sources: {
        ...f.sources,
        'shared/newFeature.ts':
          "export const limit = (env: Env) => num(env, 'TENANT_BUDGET_TABLE', 1, 0, 5);",
      },
    }));
    expect(problems).toContain(
      'TENANT_BUDGET_TABLE (read in shared/newFeature.ts) is neither set by infra/resources.bicep nor documented in docs/deploy-settings.md',
    );
    const hidden = mutate((f) => ({
      sources: { ...f.sources, 'shared/sneaky.ts': 'const key = "X"; export const v = env[key];' },
    }));
    expect(hidden[0]).toMatch(/^shared\/sneaky.ts:1: env\[key\] reads a setting this check cannot name/);
  });

  it('fails when a documented default goes missing or a documented setting is no longer read', () => {
    const undocumented = mutate((f) => ({
      settingsDoc: without(f.settingsDoc, /^\| `RECIPIENT_HOURLY_CAP`/),
    }));
    expect(undocumented).toContain(
      'RECIPIENT_HOURLY_CAP (read in shared/config.ts) is neither set by infra/resources.bicep nor documented in docs/deploy-settings.md',
    );
    const stale = mutate((f) => ({
      settingsDoc: f.settingsDoc.replace('| `AZURITE_HOST` ', '| `AZURITE_HOSTNAME` '),
    }));
    expect(stale).toContain(
      'docs/deploy-settings.md documents AZURITE_HOSTNAME, which the app does not read',
    );
  });

  it("fails when the app identity's roles miss a storage service the code uses", () => {
    const problems = mutate((f) => ({
      resourcesBicep: f.resourcesBicep.replace(/^\s+roles\.storageTableDataContributor\n/m, ''),
    }));
    expect(problems).toContain(
      "the app's identity lacks Storage Table Data Contributor for the table service it uses",
    );
  });

  it('fails when the messaging endpoint is not the route of the messages function', () => {
    const problems = mutate((f) => ({
      resourcesBicep: f.resourcesBicep.replace("/api/messages'", "/api/message'"),
    }));
    expect(problems.some((p) => p.includes('does not end with the route /api/messages'))).toBe(true);
    const route = mutate(
      editSource('functions/messages/index.ts', "route: 'messages'", "route: 'bot/messages'"),
    );
    expect(route.some((p) => p.includes('does not end with the route /api/bot/messages'))).toBe(true);
  });

  it('fails when the availability test does not call the anonymous health route', () => {
    const moved = mutate(editSource('functions/health/index.ts', "route: 'health'", "route: 'healthz'"));
    expect(moved.some((p) => p.includes('does not end with the route /api/healthz'))).toBe(true);
    const keyed = mutate(
      editSource('functions/health/index.ts', "authLevel: 'anonymous'", "authLevel: 'function'"),
    );
    expect(keyed).toContain('the availability test sends no function key, but /api/health is not anonymous');
    const unused = mutate((f) => ({ resourcesBicep: without(f.resourcesBicep, /^\s+url: healthUrl$/) }));
    expect(unused).toContain('the availability test (module health) does not call healthUrl');
  });

  it('fails when a queue or table the code uses is not made by the infra', () => {
    const poison = mutate((f) => ({
      resourcesBicep: without(f.resourcesBicep, /^\s+'notification-deliveries-poison'$/),
    }));
    expect(poison).toContain('queue notification-deliveries-poison is used but not made by the infra');
    // Each lane's deliveries queue (shared/queues.ts LANE_QUEUES) and the poison queues of its functions.
    for (const queue of [
      'notification-deliveries-urgent',
      'notification-deliveries-bulk-poison',
      'notification-deliveries-urgent-poison-poison',
    ]) {
      const lane = mutate((f) => ({
        resourcesBicep: without(f.resourcesBicep, new RegExp(`^\\s+'${queue}'$`)),
      }));
      expect(lane).toContain(`queue ${queue} is used but not made by the infra`);
    }
    const renamed = mutate(
      editSource('shared/queues.ts', "JOBS_QUEUE = 'notification-jobs'", "JOBS_QUEUE = 'jobs'"),
    );
    expect(renamed).toContain('queue jobs is used but not made by the infra');
    expect(renamed).toContain('the infra makes queue notification-jobs, which nothing uses');
    const table = mutate((f) => ({ resourcesBicep: without(f.resourcesBicep, /^\s+'RejectedJobs'$/) }));
    expect(table).toContain('table RejectedJobs is used but not made by the infra');
  });

  it("fails when the app package's bot ID is not the infra's bot identity", () => {
    const renamed = mutate((f) => ({
      mainBicep: f.mainBicep.replace('output BOT_ID ', 'output BOT_APP_ID '),
    }));
    expect(renamed).toContain(
      'manifest placeholder BOT_ID is neither an output of infra/main.bicep nor in appPackage/app.env',
    );
    // The managed identity as the bot, as on d0a8817: Teams refuses the RSC install for it.
    const other = mutate((f) => ({
      resourcesBicep: f.resourcesBicep.replace(
        'msaAppId: botRegistration.outputs.appId',
        'msaAppId: appIdentity.properties.clientId',
      ),
    }));
    expect(other).toContain(
      "the Azure Bot's msaAppId is appIdentity.properties.clientId, not the bot's app registration (botRegistration.outputs.appId)",
    );
    const rsc = mutate((f) => ({
      manifest: f.manifest.replace('"id": "${{BOT_ID}}"', '"id": "${{APP_IDENTITY_CLIENT_ID}}"'),
    }));
    expect(rsc).toContain(
      "the manifest's webApplicationInfo.id (APP_IDENTITY_CLIENT_ID) is not the bot's ID (BOT_ID)",
    );
  });
});

describe('files the infra deploys from docs/', () => {
  it('exist, and the alert template takes every parameter the infra passes', () => {
    const referenced = [
      ...files.resourcesBicep.matchAll(/loadTextContent\('([^']+)'\)/g),
      ...files.resourcesBicep.matchAll(/^module \w+ '([^']+\.json)'/gm),
    ].map((m) => m[1]!);
    expect(referenced).toEqual(['../docs/workbook.json', '../docs/alerts/alerts.json']);
    for (const rel of referenced) expect(existsSync(path.join(ROOT, 'infra', rel)), rel).toBe(true);
    JSON.parse(readFileSync(path.join(ROOT, 'docs', 'workbook.json'), 'utf8')); // serializedData must be JSON
    const alerts = JSON.parse(readFileSync(path.join(ROOT, 'docs', 'alerts', 'alerts.json'), 'utf8')) as {
      parameters: Record<string, { defaultValue?: unknown }>;
    };
    const block =
      /^module alerts [\s\S]*?params: \{([\s\S]*?)\n {2}\}/m.exec(files.resourcesBicep)?.[1] ?? '';
    const passed = [...block.matchAll(/^\s+(\w+):/gm)].map((m) => m[1]!);
    expect(passed.sort()).toEqual(['actionGroupId', 'appInsightsId', 'location', 'prefix']);
    for (const name of passed) expect(Object.keys(alerts.parameters)).toContain(name);
    const required = Object.entries(alerts.parameters).filter(([, p]) => p.defaultValue === undefined);
    for (const [name] of required) expect(passed).toContain(name);
  });
});
