/**
 * The identity and secret checks of infraDrift.ts (read as text, like the rest: no Bicep compiler
 * here). The bot is one single-tenant app registration (infra/bot-registration.bicep) wherever an
 * app ID is named, its only credential trusts the function app's own managed identity, and no app
 * setting is a secret derived from public values.
 */
import { all, bicepVar, type RepoFiles } from './infraDrift.js';

const APP_ID = 'botRegistration.outputs.appId';
const IDENTITY = 'appIdentity';

export function checkBotIdentity(f: RepoFiles): string[] {
  const problems: string[] = [];
  const r = f.resourcesBicep;
  const value = (re: RegExp) => re.exec(r)?.[1]?.trim();
  for (const [what, re] of [
    ['MicrosoftAppId', /^\s+MicrosoftAppId: (.+)$/m],
    ["the Azure Bot's msaAppId", /^\s+msaAppId: (.+)$/m],
    ['the botId output', /^output botId string = (.+)$/m],
  ] as const) {
    const v = value(re);
    if (v !== APP_ID)
      problems.push(`${what} is ${v ?? 'missing'}, not the bot's app registration (${APP_ID})`);
  }
  for (const [what, re] of [
    ['MicrosoftAppType', /^\s+MicrosoftAppType: (.+)$/m],
    ["the Azure Bot's msaAppType", /^\s+msaAppType: (.+)$/m],
  ] as const) {
    const v = value(re);
    if (v !== "'SingleTenant'") problems.push(`${what} is ${v ?? 'missing'}, not 'SingleTenant'`);
  }
  for (const [what, re] of [
    ['MicrosoftAppTenantId', /^\s+MicrosoftAppTenantId: (.+)$/m],
    ["the Azure Bot's msaAppTenantId", /^\s+msaAppTenantId: (.+)$/m],
  ] as const) {
    const v = value(re);
    if (v !== 'tenant().tenantId') problems.push(`${what} is ${v ?? 'missing'}, not this tenant`);
  }
  if (/msaAppMSIResourceId|MicrosoftAppPassword/.test(r))
    problems.push('infra/resources.bicep still names a managed-identity bot or an app password');

  // The credential trusts the identity the function app runs as, and the app names that identity.
  const clientId = value(/^\s+MicrosoftAppClientId: (.+)$/m);
  if (clientId !== `${IDENTITY}.properties.clientId`)
    problems.push(`MicrosoftAppClientId is ${clientId ?? 'missing'}, not the app identity's client ID`);
  if (!new RegExp(`userAssignedIdentities: \\{ '\\$\\{${IDENTITY}\\.id\\}': \\{\\} \\}`).test(r))
    problems.push("the function app does not run as the identity the bot's credential trusts");
  const module = /^module botRegistration 'bot-registration\.bicep' = \{([\s\S]*?)^\}/m.exec(r)?.[1] ?? '';
  if (!new RegExp(`managedIdentityPrincipalId: ${IDENTITY}\\.properties\\.principalId`).test(module))
    problems.push("the bot's federated credential does not trust the function app's identity");

  // The registration: single tenant, one federated credential, no password or certificate.
  const b = f.botRegistrationBicep;
  if (
    !/^extension microsoftGraphV1$/m.test(b) ||
    !/"microsoftGraphV1":\s*"br:mcr\.microsoft\.com\/bicep\/extensions\/microsoftgraph\/v1\.0:/.test(
      f.bicepConfig,
    )
  )
    problems.push(
      'infra/bot-registration.bicep does not use the Microsoft Graph extension that bicepconfig.json declares',
    );
  if (!/^\s+signInAudience: 'AzureADMyOrg'$/m.test(b))
    problems.push('the bot registration is not single-tenant');
  if (/passwordCredentials|keyCredentials/.test(b))
    problems.push('the bot registration has a password or certificate');
  if (all(b, /'federatedIdentityCredentials@v1\.0'/g).length !== 1)
    problems.push('the bot registration does not have exactly one federated identity credential');
  if (!/resource \w+ 'Microsoft\.Graph\/servicePrincipals@v1\.0' = \{\s*appId: app\.appId/.test(b))
    problems.push('the bot registration has no service principal in this tenant');

  // The Teams app package: the bot and its RSC permissions name the same app registration.
  const bot = /"botId":\s*"\$\{\{\s*(\w+)\s*\}\}"/.exec(f.manifest)?.[1];
  const webApp = /"webApplicationInfo":\s*\{\s*"id":\s*"\$\{\{\s*(\w+)\s*\}\}"/.exec(f.manifest)?.[1];
  if (!webApp || webApp !== bot)
    problems.push(
      `the manifest's webApplicationInfo.id (${webApp ?? 'none'}) is not the bot's ID (${bot ?? 'none'})`,
    );
  return problems;
}

/** Names of app settings that hold a secret. */
const SECRET_SETTING = /SALT|SECRET|PASSWORD|KEY$/i;

export function checkSecrets(f: RepoFiles, appSettingsBlock: string): string[] {
  const problems: string[] = [];
  const settings = all(appSettingsBlock, /^\s+([A-Za-z_]\w*):\s*(.+)$/gm).map((m) => ({
    name: m[1]!,
    value: m[2]!.trim(),
  }));
  const secureParams = new Set(
    all(f.resourcesBicep, /^@secure\(\)\s*\nparam (\w+) string$/gm).map((m) => m[1]!),
  );
  for (const { name, value } of settings) {
    // uniqueString() and guid() hash what they are given: subscription, group and resource IDs and
    // names are public to anyone who sees the resources, so the result is no secret.
    if (/\b(uniqueString|guid)\(/.test(value))
      problems.push(`app setting ${name} is derived from public values (${value})`);
    if (SECRET_SETTING.test(name) && !secureParams.has(value))
      problems.push(`app setting ${name} is a secret but not a @secure() parameter (${value})`);
  }

  // The salt: generated once by azd, kept, and handed to the deploy workflow as a secret.
  const decl = /((?:^@.*\n)+)param telemetryUserIdSalt (\w+)(.*)$/m.exec(f.mainBicep);
  const decorators = decl?.[1] ?? '';
  if (!decl) problems.push('infra/main.bicep has no telemetryUserIdSalt parameter');
  else {
    if (!/^@secure\(\)$/m.test(decorators)) problems.push('telemetryUserIdSalt is not @secure()');
    if (!/@metadata\(\{ azd: \{ type: 'generate'/.test(decorators))
      problems.push("telemetryUserIdSalt is not generated by azd (metadata azd.type 'generate')");
    // azd generates a parameter only when nothing else gives it a value (bicep_provider.go ensureParameters).
    if (decl[3]!.trim())
      problems.push(`telemetryUserIdSalt has a default (${decl[3]!.trim()}), so azd never generates it`);
  }
  if (!/^\s+telemetryUserIdSalt: telemetryUserIdSalt$/m.test(f.mainBicep))
    problems.push('infra/main.bicep does not pass telemetryUserIdSalt to resources.bicep');
  if (!secureParams.has('telemetryUserIdSalt'))
    problems.push('resources.bicep does not take telemetryUserIdSalt as @secure()');
  const mapped = (JSON.parse(f.mainParameters) as { parameters: Record<string, { value?: unknown }> })
    .parameters.telemetryUserIdSalt?.value;
  // One env var, no default: `azd pipeline config` turns it into a repository secret of that name
  // (pipeline.go mergeProjectVariablesAndSecrets); unset locally, azd generates the value.
  if (mapped !== '${TELEMETRY_USER_ID_SALT}')
    problems.push(
      `main.parameters.json maps telemetryUserIdSalt to ${JSON.stringify(mapped)}, not \${TELEMETRY_USER_ID_SALT}`,
    );
  if (bicepVar(f.resourcesBicep, 'appSettings') && !settings.some((s) => s.name === 'TELEMETRY_USER_ID_SALT'))
    problems.push('the app settings have no TELEMETRY_USER_ID_SALT');
  return problems;
}

/** Variables azd fills in itself from the signed-in principal (bicep_provider.go evalParamEnvSubst). */
const AZD_PROVIDED = new Set(['AZURE_PRINCIPAL_ID', 'AZURE_PRINCIPAL_TYPE']);

/**
 * The deploy workflow signs in with a subject `azd pipeline config` trusts and gives azd every
 * value a local `azd up` had: each environment variable main.parameters.json maps, as the
 * repository variable (or, for a @secure() parameter, secret) of that name.
 */
export function checkDeployWorkflow(f: RepoFiles): string[] {
  const problems: string[] = [];
  const w = f.deployWorkflow;
  if (/^\s+environment:/m.test(w))
    problems.push(
      'the deploy job runs in a GitHub environment, a subject `azd pipeline config` does not trust',
    );
  if (!/--federated-credential-provider github/.test(w))
    problems.push('the deploy workflow does not sign in with OIDC');
  const secure = new Set(all(f.mainBicep, /^@secure\(\)\n(?:@.*\n)*param (\w+) /gm).map((m) => m[1]!));
  const parameters = (JSON.parse(f.mainParameters) as { parameters: Record<string, { value?: unknown }> })
    .parameters;
  for (const [param, { value }] of Object.entries(parameters)) {
    for (const m of all(String(value), /\$\{(\w+)/g)) {
      const name = m[1]!;
      if (AZD_PROVIDED.has(name)) continue;
      const kind = secure.has(param) ? 'secrets' : 'vars';
      const line = new RegExp(`^\\s+${name}: \\$\\{\\{ ${kind}\\.${name} \\}\\}$`, 'm');
      if (!line.test(w))
        problems.push(`the deploy workflow does not give azd ${name} (${kind}.${name}) for ${param}`);
    }
  }
  return problems;
}
