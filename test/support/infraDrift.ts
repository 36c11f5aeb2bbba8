/**
 * What can be checked of infra/ without the Bicep compiler (not installable here): the Bicep files
 * are read as text, the app's sources for the settings, queues, tables and routes they use.
 * `checkInfraDrift` is pure (file contents in, problems out) so the test can run it on mutated
 * copies and show that each check fails when the infra drifts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { checkBotIdentity, checkDeployWorkflow, checkSecrets } from './identityDrift.js';

export interface RepoFiles {
  /** shared/** and functions/** TypeScript sources by path relative to the root. */
  sources: Record<string, string>;
  mainBicep: string;
  mainParameters: string;
  resourcesBicep: string;
  botRegistrationBicep: string;
  bicepConfig: string;
  deployWorkflow: string;
  hostJson: string;
  packageJson: string;
  manifest: string;
  appEnv: string;
  /** docs/deploy-settings.md: the settings the infra leaves at their defaults. */
  settingsDoc: string;
}

export function readRepoFiles(root: string): RepoFiles {
  const sources: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (rel.endsWith('.ts')) sources[rel] = readFileSync(path.join(root, rel), 'utf8');
    }
  };
  walk('shared');
  walk('functions');
  const read = (rel: string) => readFileSync(path.join(root, rel), 'utf8');
  return {
    sources,
    mainBicep: read('infra/main.bicep'),
    mainParameters: read('infra/main.parameters.json'),
    resourcesBicep: read('infra/resources.bicep'),
    botRegistrationBicep: read('infra/bot-registration.bicep'),
    bicepConfig: read('infra/bicepconfig.json'),
    deployWorkflow: read('.github/workflows/deploy.yml'),
    hostJson: read('host.json'),
    packageJson: read('package.json'),
    manifest: read('appPackage/manifest.json'),
    appEnv: read('appPackage/app.env'),
    settingsDoc: read('docs/deploy-settings.md'),
  };
}

export const all = (text: string, re: RegExp) => [...text.matchAll(re)];

/** A Bicep `var name = { ... }` or `[ ... ]` block: from its line to the first line closing it at column 0. */
export function bicepVar(bicep: string, name: string): string | undefined {
  const start = bicep.search(new RegExp(`^var ${name} = [{[]`, 'm'));
  if (start < 0) return undefined;
  const end = bicep.slice(start).search(/^[}\]]/m);
  return end < 0 ? undefined : bicep.slice(start, start + end);
}

/** Every app setting the code reads, with where; prefixes end in `*`. */
export function settingsReadByCode(sources: Record<string, string>): {
  settings: Map<string, string>;
  unrecognized: string[];
} {
  const settings = new Map<string, string>();
  const unrecognized: string[] = [];
  const add = (name: string, file: string) => {
    if (!settings.has(name)) settings.set(name, file);
  };
  for (const [file, text] of Object.entries(sources)) {
    for (const m of all(text, /\b(?:str|num|list|flag|oneOf)\(\s*env,\s*'([A-Za-z_]\w*)'/g)) add(m[1]!, file);
    for (const m of all(text, /\benv\.([A-Za-z_]\w*)/g)) add(m[1]!, file);
    for (const m of all(text, /\benv\[\s*'([A-Za-z_]\w*)'\s*\]/g)) add(m[1]!, file);
    const prefix = /const prefix = '(\w+)'/.exec(text)?.[1];
    if (prefix) {
      if (/\benv\[prefix\]/.test(text)) add(prefix, file);
      for (const m of all(text, /\benv\[`\$\{prefix\}(__\w+)`\]/g)) add(`${prefix}${m[1]}`, file);
      if (prefix.endsWith('__') && /startsWith\(prefix\)/.test(text)) add(`${prefix}*`, file);
    }
    const host = /AZURE_HOST_SETTINGS = \[([^\]]*)\]/.exec(text)?.[1];
    if (host) for (const m of all(host, /'(\w+)'/g)) add(m[1]!, file);
    // Any other way of indexing the environment would hide a setting from this check.
    text.split('\n').forEach((line, i) => {
      for (const m of all(line, /\benv\[([^\]]*)\]/g)) {
        const key = m[1]!.trim();
        if (/^'\w+'$/.test(key) || key === 'prefix' || key.startsWith('`${prefix}')) continue;
        if (key === 'name' && /^function \w+\(env: Env, name: string/m.test(text)) continue;
        unrecognized.push(`${file}:${i + 1}: env[${key}]`);
      }
    });
  }
  return { settings, unrecognized };
}

/** Rows of the table under docs/deploy-settings.md's "Settings left at their defaults". */
export function documentedSettings(settingsDoc: string): Map<string, string> {
  const start = settingsDoc.search(/^## Settings left at their defaults/m);
  const rows = new Map<string, string>();
  if (start < 0) return rows;
  const section = settingsDoc.slice(start).split(/^## /m)[1] ?? '';
  for (const m of all(section, /^\|\s*`([^`]+)`\s*\|\s*([^|]*?)\s*\|/gm)) rows.set(m[1]!, m[2]!);
  return rows;
}

/**
 * The data role each storage service needs, by name. infra's `var roles` keys are these names in
 * camel case; their IDs are checked against Microsoft's list by test/microsoft-constants.test.ts.
 */
const ROLE_FOR_SERVICE: Record<'blob' | 'queue' | 'table', string> = {
  blob: 'Storage Blob Data Owner',
  queue: 'Storage Queue Data Contributor',
  table: 'Storage Table Data Contributor',
};
const roleKey = (name: string) => name.replace(/ /g, '').replace(/^./, (c) => c.toLowerCase());

export function checkInfraDrift(f: RepoFiles): string[] {
  const problems: string[] = [];
  const code = Object.values(f.sources).join('\n');

  // --- Settings: every one the app reads is set by the infra or documented with its default.
  const appSettingsBlock = bicepVar(f.resourcesBicep, 'appSettings') ?? '';
  if (!appSettingsBlock) problems.push('infra/resources.bicep has no `var appSettings = { ... }` block');
  const infraSettings = new Set(all(appSettingsBlock, /^\s+([A-Za-z_]\w*)\s*:/gm).map((m) => m[1]!));
  const documented = documentedSettings(f.settingsDoc);
  const { settings, unrecognized } = settingsReadByCode(f.sources);
  for (const where of unrecognized) {
    problems.push(
      `${where} reads a setting this check cannot name; read it as env['NAME'] or teach the check`,
    );
  }
  // App Service setting names are case-insensitive; the docs write them as Microsoft does.
  const documentedLower = new Map([...documented].map(([k, v]) => [k.toLowerCase(), v]));
  const readLower = new Set([...settings.keys()].map((k) => k.toLowerCase()));
  for (const [name, file] of settings) {
    if (infraSettings.has(name)) continue;
    const doc = documentedLower.get(name.toLowerCase());
    if (doc === undefined) {
      problems.push(
        `${name} (read in ${file}) is neither set by infra/resources.bicep nor documented in docs/deploy-settings.md`,
      );
    } else if (!doc) {
      problems.push(`${name} is documented in docs/deploy-settings.md without its default`);
    }
  }
  for (const name of documented.keys()) {
    if (!readLower.has(name.toLowerCase()))
      problems.push(`docs/deploy-settings.md documents ${name}, which the app does not read`);
    if (infraSettings.has(name))
      problems.push(`docs/deploy-settings.md says the infra does not set ${name}, but it does`);
  }

  // --- Storage: each service the code and host use has its data role and its service URI.
  const services = new Set<'blob' | 'queue' | 'table'>(['blob']); // the host: deployment package, leases
  if (/from '@azure\/data-tables'/.test(code)) services.add('table');
  if (/from '@azure\/storage-queue'/.test(code) || /app\.storageQueue\(/.test(code)) services.add('queue');
  if (/from '@azure\/storage-blob'/.test(code)) services.add('blob');
  const appRoles = new Set(
    all(bicepVar(f.resourcesBicep, 'appStorageRoles') ?? '', /roles\.(\w+)/g).map((m) => m[1]!),
  );
  if (
    !/for role in appStorageRoles:[\s\S]*?principalId: appIdentity\.properties\.principalId/.test(
      f.resourcesBicep,
    )
  ) {
    problems.push("infra/resources.bicep does not assign appStorageRoles to the app's identity");
  }
  for (const service of services) {
    const role = ROLE_FOR_SERVICE[service];
    if (!appRoles.has(roleKey(role)))
      problems.push(`the app's identity lacks ${role} for the ${service} service it uses`);
    if (!infraSettings.has(`AzureWebJobsStorage__${service}ServiceUri`)) {
      problems.push(`AzureWebJobsStorage__${service}ServiceUri is not set: the ${service} service is used`);
    }
  }
  for (const name of ['AzureWebJobsStorage__credential', 'AzureWebJobsStorage__clientId']) {
    if (!infraSettings.has(name)) problems.push(`${name} is not set: identity-based storage needs it`);
  }
  if (!/allowSharedKeyAccess: false/.test(f.resourcesBicep))
    problems.push('the storage account allows shared keys');

  // --- The messaging endpoint is the HTTP route of the messages function.
  const host = JSON.parse(f.hostJson) as {
    extensions?: { http?: { routePrefix?: string }; queues?: { maxDequeueCount?: number } };
  };
  const prefix = host.extensions?.http?.routePrefix ?? 'api';
  const route = /app\.http\('messages',\s*\{[\s\S]*?route:\s*'([^']+)'/.exec(
    f.sources['functions/messages/index.ts'] ?? '',
  )?.[1];
  const expected = `/${prefix ? `${prefix}/` : ''}${route ?? 'messages'}`;
  const endpoint = /^var messagingEndpoint = '([^']*)'/m.exec(f.resourcesBicep)?.[1] ?? '';
  if (!endpoint.endsWith(expected)) {
    problems.push(
      `the bot's messaging endpoint (${endpoint || 'none'}) does not end with the route ${expected}`,
    );
  }
  if (!/endpoint: messagingEndpoint/.test(f.resourcesBicep))
    problems.push('the Azure Bot does not use messagingEndpoint');

  // --- The availability test (infra/health.bicep) calls the health function's route, without a key.
  const health = f.sources['functions/health/index.ts'] ?? '';
  const healthRoute = /app\.http\('health',\s*\{[\s\S]*?route:\s*'([^']+)'/.exec(health)?.[1];
  const healthPath = `/${prefix ? `${prefix}/` : ''}${healthRoute ?? 'health'}`;
  const healthUrl = /^var healthUrl = '([^']*)'/m.exec(f.resourcesBicep)?.[1] ?? '';
  if (!healthUrl.endsWith(healthPath)) {
    problems.push(
      `the availability test's URL (${healthUrl || 'none'}) does not end with the route ${healthPath}`,
    );
  }
  if (!/^module health 'health\.bicep' = \{[\s\S]*?^\s+url: healthUrl$/m.test(f.resourcesBicep))
    problems.push('the availability test (module health) does not call healthUrl');
  if (!/authLevel: 'anonymous'/.test(health))
    problems.push('the availability test sends no function key, but /api/health is not anonymous');

  // --- Queues and tables: the infra makes exactly what the code and the host use.
  const queueConsts = new Map(
    all(f.sources['shared/queues.ts'] ?? '', /export const (\w+_QUEUE) = '([^']+)'/g).map((m) => [
      m[1]!,
      m[2]!,
    ]),
  );
  // A trigger names a queue constant, or the poison queue of one (`poisonQueueOf(X)` is `X-poison`).
  const triggerQueues = all(code, /queueName:\s*(?:(poisonQueueOf)\((\w+)\)|(\w+))/g).map((m) => {
    const name = m[2] ?? m[3]!;
    const queue = queueConsts.get(name) ?? name;
    return m[1] ? `${queue}-poison` : queue;
  });
  const codeQueues = new Set([...queueConsts.values(), ...triggerQueues]);
  const poison = (host.extensions?.queues?.maxDequeueCount ?? 5) > 0;
  const wanted = new Set([...codeQueues, ...(poison ? triggerQueues.map((q) => `${q}-poison`) : [])]);
  const infraQueues = new Set(
    all(bicepVar(f.resourcesBicep, 'queueNames') ?? '', /'([^']+)'/g).map((m) => m[1]!),
  );
  for (const q of wanted)
    if (!infraQueues.has(q)) problems.push(`queue ${q} is used but not made by the infra`);
  for (const q of infraQueues)
    if (!wanted.has(q)) problems.push(`the infra makes queue ${q}, which nothing uses`);
  const codeTables = new Set([
    ...all(/export const TABLES = \{([^}]*)\}/.exec(code)?.[1] ?? '', /'([^']+)'/g).map((m) => m[1]!),
    ...all(code, /tableClient\([^,]+,\s*'([^']+)'\)/g).map((m) => m[1]!),
  ]);
  const infraTables = new Set(
    all(bicepVar(f.resourcesBicep, 'tableNames') ?? '', /'([^']+)'/g).map((m) => m[1]!),
  );
  for (const t of codeTables)
    if (!infraTables.has(t)) problems.push(`table ${t} is used but not made by the infra`);

  // --- The bot's identity: one app registration everywhere, signing in with the app's identity.
  problems.push(...checkBotIdentity(f));
  problems.push(...checkSecrets(f, appSettingsBlock));
  problems.push(...checkDeployWorkflow(f));
  if (!/name: 'MsTeamsChannel'/.test(f.resourcesBicep))
    problems.push('the Azure Bot has no Microsoft Teams channel');
  const outputs = new Set(all(f.mainBicep, /^output (\w+) /gm).map((m) => m[1]!));
  const defaults = new Set(all(f.appEnv, /^([A-Za-z_]\w*)=/gm).map((m) => m[1]!));
  const placeholders = new Set(all(f.manifest, /\$\{\{\s*(\w+)\s*\}\}/g).map((m) => m[1]!));
  for (const name of placeholders) {
    if (!outputs.has(name) && !defaults.has(name)) {
      problems.push(
        `manifest placeholder ${name} is neither an output of infra/main.bicep nor in appPackage/app.env`,
      );
    }
  }
  const botPlaceholder = /"botId":\s*"\$\{\{\s*(\w+)\s*\}\}"/.exec(f.manifest)?.[1];
  if (!botPlaceholder || !outputs.has(botPlaceholder)) {
    problems.push(`the manifest's botId placeholder (${botPlaceholder ?? 'none'}) is not an infra output`);
  } else if (
    !new RegExp(`^output ${botPlaceholder} string = resources\\.outputs\\.botId$`, 'm').test(f.mainBicep)
  ) {
    problems.push(`output ${botPlaceholder} is not the bot's ID (resources.outputs.botId)`);
  }
  // npm run notify / status, run with the azd environment's values.
  for (const name of [
    'DEFAULT_TENANT_ID',
    'AzureWebJobsStorage__queueServiceUri',
    'AzureWebJobsStorage__tableServiceUri',
  ]) {
    if (!outputs.has(name))
      problems.push(`infra/main.bicep has no output ${name}, which npm run notify/status need`);
  }

  // --- Runtime: Node 22 as package.json's engines, on Flex Consumption.
  const engines = (JSON.parse(f.packageJson) as { engines?: { node?: string } }).engines?.node ?? '';
  const runtime = /runtime: \{\s*name: 'node'\s*version: '(\d+)'/.exec(f.resourcesBicep)?.[1];
  if (!runtime || !new RegExp(`>=${runtime}\\b`).test(engines)) {
    problems.push(`the function app runs Node ${runtime ?? '?'}, package.json engines say ${engines}`);
  }
  if (!/tier: 'FlexConsumption'/.test(f.resourcesBicep)) problems.push('the plan is not Flex Consumption');
  if (!/maximumInstanceCount: maximumInstanceCount/.test(f.resourcesBicep)) {
    problems.push('maximumInstanceCount is not the parameter');
  }
  return problems;
}
