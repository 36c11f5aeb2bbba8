/**
 * Microsoft's constants in infra/ against Microsoft's published values (test/fixtures/microsoft/,
 * each file citing its page and repository path), never against a copy of our own. Pure: file
 * contents in, problems out, so the test can show each check failing on a mutated copy.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

export interface MicrosoftFixtures {
  /** Built-in role name → role definition ID. */
  roles: Record<string, string>;
  managedIdentityCredential: { issuer: string; subject: string; audiences: Record<string, string> };
  graph: {
    microsoftGraphAppId: string;
    /** Application permission name → ID. */
    applicationPermissions: Record<string, string>;
    /** API → its application permissions, least privileged first. */
    apis: Record<string, string[]>;
  };
}

export function readMicrosoftFixtures(root: string): MicrosoftFixtures {
  const read = (name: string) =>
    JSON.parse(readFileSync(path.join(root, 'test', 'fixtures', 'microsoft', name), 'utf8')) as Record<
      string,
      unknown
    >;
  return {
    roles: read('azure-built-in-roles.json').roles as MicrosoftFixtures['roles'],
    managedIdentityCredential: read('workload-identity-federation.json')
      .managedIdentityCredential as MicrosoftFixtures['managedIdentityCredential'],
    graph: read('graph-permissions.json') as unknown as MicrosoftFixtures['graph'],
  };
}

/** infra/'s text files by name (every .bicep and .json under infra/). */
export function readInfraFiles(root: string): Record<string, string> {
  const dir = path.join(root, 'infra');
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => /\.(bicep|json)$/.test(f))
      .map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]),
  );
}

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const normalize = (name: string) => name.replace(/[^a-z0-9]/gi, '').toLowerCase();

/** `var roles = { camelCaseRoleName: 'guid' ... }`: each key names the built-in role it holds. */
function infraRoles(bicep: string): Array<{ key: string; id: string; line: number }> {
  const block = /^var roles = \{([\s\S]*?)^\}/m.exec(bicep);
  if (!block) return [];
  const firstLine = bicep.slice(0, block.index).split('\n').length;
  return block[1]!.split('\n').flatMap((text, i) => {
    const m = /^\s+(\w+):\s*'([^']*)'/.exec(text);
    return m ? [{ key: m[1]!, id: m[2]!, line: firstLine + i }] : [];
  });
}

export function checkMicrosoftConstants(infra: Record<string, string>, ms: MicrosoftFixtures): string[] {
  const problems: string[] = [];
  const byName = new Map(Object.entries(ms.roles).map(([name, id]) => [normalize(name), { name, id }]));
  const known = new Set<string>();

  // --- Built-in roles: each one infra names is Microsoft's role of that name, with Microsoft's ID.
  for (const [file, text] of Object.entries(infra)) {
    for (const { key, id, line } of infraRoles(text)) {
      const role = byName.get(normalize(key));
      if (!role) {
        problems.push(`${file}:${line}: role ${key} is not a built-in role in Microsoft's list`);
      } else if (role.id !== id.toLowerCase()) {
        problems.push(`${file}:${line}: ${role.name} is ${id} in infra, ${role.id} in Microsoft's list`);
      } else {
        known.add(id.toLowerCase());
      }
    }
  }

  problems.push(...checkGraphPermissions(infra['bot-registration.bicep'] ?? '', ms.graph, known));
  // --- IDs of our own: the producers' app role IDs, in one block, and nowhere else.
  const ours = ownAppRoleIds(infra['bot-registration.bicep'] ?? '', ms, problems);

  // --- No other well-known ID hides anywhere in infra/: every GUID is one checked above.
  for (const [file, text] of Object.entries(infra)) {
    text.split('\n').forEach((line, i) => {
      for (const m of line.matchAll(GUID)) {
        if (file === 'bot-registration.bicep' && ours.lines.has(i + 1)) continue;
        if (!known.has(m[0].toLowerCase()))
          problems.push(`${file}:${i + 1}: ${m[0]} is not checked against any list of Microsoft's`);
      }
    });
  }

  // --- The bot's federated credential trusts the managed identity the way Microsoft documents it.
  const registration = infra['bot-registration.bicep'] ?? '';
  const fic = /resource \w+ 'federatedIdentityCredentials@v1\.0' = \{([\s\S]*?)\n {2}\}/.exec(
    registration,
  )?.[1];
  if (!fic) {
    problems.push('bot-registration.bicep has no federated identity credential');
    return problems;
  }
  const value = (name: string) => {
    const raw = new RegExp(`^\\s+${name}: (.+)$`, 'm').exec(fic)?.[1]?.trim() ?? '';
    const variable = new RegExp(`^var ${raw} = '(.*)'$`, 'm').exec(registration)?.[1];
    return variable ?? raw;
  };
  // Bicep's environment().authentication.loginEndpoint is the cloud's login host with a trailing slash.
  const issuer = value('issuer')
    .replace('${environment().authentication.loginEndpoint}', 'https://login.microsoftonline.com/')
    .replace('${tenant().tenantId}', '{tenant}');
  if (issuer !== ms.managedIdentityCredential.issuer)
    problems.push(
      `the credential's issuer is ${issuer}, Microsoft's is ${ms.managedIdentityCredential.issuer}`,
    );
  const audiences =
    /^\s+audiences: \[(.*)\]$/m
      .exec(fic)?.[1]
      ?.split(',')
      .map((a) => a.trim()) ?? [];
  const audienceValues = audiences.map(
    (a) => new RegExp(`^var ${a} = '(.*)'$`, 'm').exec(registration)?.[1] ?? a.replace(/^'|'$/g, ''),
  );
  const global = ms.managedIdentityCredential.audiences['Microsoft Entra ID global service'];
  if (audienceValues.length !== 1 || audienceValues[0] !== global)
    problems.push(
      `the credential's audiences are [${audienceValues.join(', ')}], Microsoft's is [${global}]`,
    );
  // The subject is the identity's object (principal) ID: the module parameter it is set from must be
  // given the identity's principalId, not its clientId.
  const subjectParam = value('subject');
  const passed = new RegExp(`^\\s+${subjectParam}: (.+)$`, 'm')
    .exec(infra['resources.bicep'] ?? '')?.[1]
    ?.trim();
  if (!/^\w+\.properties\.principalId$/.test(passed ?? ''))
    problems.push(
      `the credential's subject (${subjectParam}) is given ${passed ?? 'nothing'}, not a managed identity's principal ID (${ms.managedIdentityCredential.subject})`,
    );
  return problems;
}

/**
 * The one principled exception to "every GUID in infra/ is Microsoft's": an app role's `id` is chosen
 * by the app that defines it (Microsoft Graph's appRole resource: "You must specify a new GUID
 * identifier when you create a new app role"). Ours are accepted only in bot-registration.bicep's
 * `var ownAppRoleIds` block, one per app role the registration defines and used as that role's `id`,
 * each a random (version 4) GUID, none repeated and none one of Microsoft's. A GUID anywhere else
 * is still checked against Microsoft's lists.
 */
function ownAppRoleIds(bicep: string, ms: MicrosoftFixtures, problems: string[]): { lines: Set<number> } {
  const lines = new Set<number>();
  const block = /^var ownAppRoleIds = \{([\s\S]*?)^\}/m.exec(bicep);
  if (!block) return { lines };
  const firstLine = bicep.slice(0, block.index).split('\n').length;
  const microsoft = new Set(
    [...Object.values(ms.roles), ...JSON.stringify(ms.managedIdentityCredential).matchAll(GUID)].map((id) =>
      String(id).toLowerCase(),
    ),
  );
  const roleValues = new Set([...bicep.matchAll(/^\s+value: '([^']+)'$/gm)].map((m) => m[1]!));
  const seen = new Set<string>();
  block[1]!.split('\n').forEach((text, i) => {
    const m = /^\s+'([^']+)':\s*'([^']*)'\s*$/.exec(text);
    if (!m) return;
    const [, role, id] = m as unknown as [string, string, string];
    const line = firstLine + i;
    lines.add(line);
    const where = `bot-registration.bicep:${line}`;
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id))
      problems.push(`${where}: ${id} (${role}) is not a random (version 4) GUID of our own`);
    if (microsoft.has(id.toLowerCase())) problems.push(`${where}: ${id} (${role}) is Microsoft's, not ours`);
    if (seen.has(id.toLowerCase())) problems.push(`${where}: ${id} (${role}) is used twice`);
    seen.add(id.toLowerCase());
    if (!roleValues.has(role)) problems.push(`${where}: ${role} is not an app role the registration defines`);
  });
  if (!/^\s+id: ownAppRoleIds\[role\.value\]$/m.test(bicep))
    problems.push("bot-registration.bicep: the app roles' ids are not ownAppRoleIds[role.value]");
  return { lines };
}

const CATALOG_API = 'GET /appCatalogs/teamsApps';

/**
 * The bot's Microsoft Graph application permissions: Microsoft Graph's app ID, each permission's
 * ID as Microsoft lists it, and least privilege for the APIs the app calls: each API is allowed by
 * a granted permission, and each granted permission is the least privileged one of an API that no
 * other grant allows (the catalog list only when the app must look its catalog ID up).
 */
function checkGraphPermissions(
  registration: string,
  ms: MicrosoftFixtures['graph'],
  known: Set<string>,
): string[] {
  const problems: string[] = [];
  const appId = /^var microsoftGraphAppId = '([^']*)'/m.exec(registration)?.[1];
  if (appId === undefined)
    return ['bot-registration.bicep does not name Microsoft Graph (var microsoftGraphAppId)'];
  if (appId.toLowerCase() !== ms.microsoftGraphAppId)
    problems.push(
      `Microsoft Graph's app ID is ${appId} in infra, ${ms.microsoftGraphAppId} in Microsoft's list`,
    );
  else known.add(appId.toLowerCase());
  const block = /^var graphPermissions = \{([\s\S]*?)^\}/m.exec(registration)?.[1] ?? '';
  const ids = new Map(
    block.split('\n').flatMap((line) => {
      const m = /^\s+'([^']+)':\s*'([^']*)'/.exec(line);
      return m ? [[m[1]!, m[2]!] as const] : [];
    }),
  );
  for (const [name, id] of ids) {
    const published = ms.applicationPermissions[name];
    if (!published)
      problems.push(`${name} is not a Microsoft Graph application permission in Microsoft's list`);
    else if (published !== id.toLowerCase())
      problems.push(`${name} is ${id} in infra, ${published} in Microsoft's list`);
    else known.add(published);
  }
  const branches =
    /^var neededPermissions = empty\(teamsAppCatalogId\)\s*\?\s*\[([^\]]*)\]\s*:\s*\[([^\]]*)\]/m.exec(
      registration,
    );
  if (!branches)
    return [
      ...problems,
      'bot-registration.bicep has no `var neededPermissions = empty(teamsAppCatalogId) ? [...] : [...]`',
    ];
  const names = (list: string) => [...list.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
  for (const [granted, lookUp] of [
    [names(branches[1]!), true],
    [names(branches[2]!), false],
  ] as const) {
    const apis = Object.entries(ms.apis).filter(([api]) => lookUp || api !== CATALOG_API);
    const when = lookUp ? 'without a catalog ID' : 'with a catalog ID';
    for (const name of granted)
      if (!ids.has(name)) problems.push(`${name} is granted but has no ID in var graphPermissions`);
    for (const [api, allowed] of apis)
      if (!granted.some((g) => allowed.includes(g)))
        problems.push(`${when}, the app may not call ${api}: none of ${allowed.join(', ')} is granted`);
    for (const name of granted) {
      const needs = apis.some(
        ([, allowed]) => allowed[0] === name && !granted.some((g) => g !== name && allowed.includes(g)),
      );
      if (!needs)
        problems.push(`${when}, ${name} is not the least privileged permission of an API the app calls`);
    }
  }
  for (const use of [
    /requiredResourceAccess:[\s\S]*?for name in neededPermissions: \{ id: graphPermissions\[name\], type: 'Role' \}/,
    /'Microsoft\.Graph\/appRoleAssignedTo@v1\.0' = \[\s*for name in neededPermissions:[\s\S]*?appRoleId: graphPermissions\[name\]/,
  ])
    if (!use.test(registration))
      problems.push(
        `bot-registration.bicep does not ask for or grant neededPermissions (${use.source.slice(0, 40)}...)`,
      );
  return problems;
}
