import { describe, expect, it } from 'vitest';
import { ROOT } from './support/app.js';
import { ROLES } from '../shared/auth/roles.js';
import {
  checkMicrosoftConstants,
  readInfraFiles,
  readMicrosoftFixtures,
} from './support/microsoftConstants.js';

/**
 * Issue 21: every well-known ID and value infra/ uses is Microsoft's, checked against fixtures copied
 * from Microsoft's published lists (test/fixtures/microsoft/*.json cite page and repository path),
 * never against infra's own copy. On d0a8817 this failed: infra granted "Storage Table Data
 * Contributor" as 0a9a7e1f-b9d0-4cc4-a60d-0319b160ff3c, so the role assignment and `azd provision` failed.
 */

const infra = readInfraFiles(ROOT);
const microsoft = readMicrosoftFixtures(ROOT);

function mutated(file: string, from: string | RegExp, to: string): string[] {
  const text = infra[file]!;
  const changed = text.replace(from, to);
  if (changed === text) throw new Error(`the mutation of ${file} did not apply`);
  return checkMicrosoftConstants({ ...infra, [file]: changed }, microsoft);
}

describe("infra/ uses Microsoft's constants", () => {
  it("matches Microsoft's built-in roles and workload identity federation values", () => {
    expect(checkMicrosoftConstants(infra, microsoft)).toEqual([]);
  });

  it("names only built-in roles from Microsoft's list", () => {
    expect(Object.keys(infra)).toContain('resources.bicep');
    const problems = mutated(
      'resources.bicep',
      "storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'",
      "storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160ff3c'",
    );
    expect(problems).toEqual([
      expect.stringMatching(
        /^resources\.bicep:\d+: Storage Table Data Contributor is 0a9a7e1f-b9d0-4cc4-a60d-0319b160ff3c in infra, 0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3 in Microsoft's list$/,
      ),
      expect.stringMatching(
        /0a9a7e1f-b9d0-4cc4-a60d-0319b160ff3c is not checked against any list of Microsoft's$/,
      ),
    ]);
    const unknown = mutated('resources.bicep', 'storageTableDataReader:', 'storageTableDataPeeker:');
    expect(unknown[0]).toMatch(/role storageTableDataPeeker is not a built-in role in Microsoft's list$/);
  });

  it('leaves no unchecked GUID anywhere in infra/', () => {
    const problems = mutated(
      'bot-registration.bicep',
      "signInAudience: 'AzureADMyOrg'",
      "signInAudience: 'AzureADMyOrg'\n  tags: ['a0b1c2d3-0000-4000-8000-000000000001']",
    );
    expect(problems).toEqual([
      expect.stringMatching(
        /^bot-registration\.bicep:\d+: a0b1c2d3-0000-4000-8000-000000000001 is not checked against any list of Microsoft's$/,
      ),
    ]);
  });

  // Issue 23: the bot's Microsoft Graph application permissions.
  it("names Microsoft Graph's application permissions with Microsoft's IDs", () => {
    // User.Read.All's delegated ID instead of its application one.
    expect(
      mutated(
        'bot-registration.bicep',
        "'User.Read.All': 'df021288-bdef-4463-88db-98f22de89214'",
        "'User.Read.All': 'a154be20-db9c-4678-8ab7-66f6cc099a59'",
      ),
    ).toEqual([
      "User.Read.All is a154be20-db9c-4678-8ab7-66f6cc099a59 in infra, df021288-bdef-4463-88db-98f22de89214 in Microsoft's list",
      expect.stringMatching(
        /a154be20-db9c-4678-8ab7-66f6cc099a59 is not checked against any list of Microsoft's$/,
      ),
    ]);
    expect(
      mutated(
        'bot-registration.bicep',
        "var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'",
        "var microsoftGraphAppId = '00000002-0000-0000-c000-000000000000'",
      )[0],
    ).toBe(
      "Microsoft Graph's app ID is 00000002-0000-0000-c000-000000000000 in infra, 00000003-0000-0000-c000-000000000000 in Microsoft's list",
    );
  });

  it('grants least privilege: each API the app calls allowed, nothing broader or unneeded', () => {
    const broader = mutated('bot-registration.bicep', /'User\.Read\.All'(?!:)/g, "'User.ReadWrite.All'");
    expect(broader).toContain(
      'without a catalog ID, User.ReadWrite.All is not the least privileged permission of an API the app calls',
    );
    const missing = mutated('bot-registration.bicep', ", 'AppCatalog.Read.All']", ']');
    expect(missing).toContain(
      'without a catalog ID, the app may not call GET /appCatalogs/teamsApps: none of AppCatalog.Read.All, AppCatalog.ReadWrite.All is granted',
    );
    const unneeded = mutated(
      'bot-registration.bicep',
      "'GroupMember.Read.All', 'TeamsAppInstallation.ReadWriteSelfForUser.All']",
      "'GroupMember.Read.All', 'TeamsAppInstallation.ReadWriteSelfForUser.All', 'AppCatalog.Read.All']",
    );
    expect(unneeded).toEqual([
      'with a catalog ID, AppCatalog.Read.All is not the least privileged permission of an API the app calls',
    ]);
  });

  it("trusts the managed identity with Microsoft's issuer, audience and subject", () => {
    expect(
      mutated('bot-registration.bicep', "'api://AzureADTokenExchange'", "'api://AzureADTokenExchangeChina'"),
    ).toEqual([
      "the credential's audiences are [api://AzureADTokenExchangeChina], Microsoft's is [api://AzureADTokenExchange]",
    ]);
    expect(mutated('bot-registration.bicep', '${tenant().tenantId}/v2.0', '${tenant().tenantId}/')).toEqual([
      "the credential's issuer is https://login.microsoftonline.com/{tenant}/, Microsoft's is https://login.microsoftonline.com/{tenant}/v2.0",
    ]);
    expect(
      mutated(
        'resources.bicep',
        'managedIdentityPrincipalId: appIdentity.properties.principalId',
        'managedIdentityPrincipalId: appIdentity.properties.clientId',
      ),
    ).toEqual([
      "the credential's subject (managedIdentityPrincipalId) is given appIdentity.properties.clientId, not a managed identity's principal ID (the managed identity's Object (Principal) ID)",
    ]);
  });

  describe("IDs of our own: the producers' app role IDs, and only there", () => {
    const send = '01f0af30-3ee2-4178-b666-a4fa6ed9735f';

    it('are accepted in the ownAppRoleIds block, as the ids of the roles the code checks', () => {
      const bicep = infra['bot-registration.bicep']!;
      const values = [...bicep.matchAll(/^\s+value: '([^']+)'$/gm)].map((m) => m[1]);
      expect(values.sort()).toEqual(Object.values(ROLES).sort());
      expect(bicep).toContain(`'Notifications.Send': '${send}'`);
    });

    it('are still flagged anywhere else in infra/', () => {
      const problems = mutated('resources.bicep', 'var token = ', `var ownRole = '${send}'\nvar token = `);
      expect(problems).toEqual([
        expect.stringMatching(`${send} is not checked against any list of Microsoft's$`),
      ]);
    });

    it("never let one of Microsoft's IDs, or a made-up one, pass as ours", () => {
      const line =
        infra['bot-registration.bicep']!.split('\n').findIndex((l) => l.includes("'Notifications.Send': ")) +
        1;
      const microsoft = mutated('bot-registration.bicep', send, '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3');
      expect(microsoft).toContain(
        `bot-registration.bicep:${line}: 0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3 (Notifications.Send) is Microsoft's, not ours`,
      );
      const wellKnown = mutated('bot-registration.bicep', send, '00000003-0000-0000-c000-000000000000');
      expect(wellKnown).toEqual([
        `bot-registration.bicep:${line}: 00000003-0000-0000-c000-000000000000 (Notifications.Send) is not a random (version 4) GUID of our own`,
      ]);
      const stray = mutated('bot-registration.bicep', "'Notifications.Send': ", "'Notifications.Sned': ");
      expect(stray).toContain(
        `bot-registration.bicep:${line}: Notifications.Sned is not an app role the registration defines`,
      );
      const unwired = mutated('bot-registration.bicep', 'id: ownAppRoleIds[role.value]', `id: '${send}'`);
      expect(unwired).toContain(
        "bot-registration.bicep: the app roles' ids are not ownAppRoleIds[role.value]",
      );
    });
  });
});
