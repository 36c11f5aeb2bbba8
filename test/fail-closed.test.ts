import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inboundAuthentication, loadConfig } from '../shared/config.js';
import { personalInstall, personalMessage } from './support/activities.js';
import { eventually, startApp, TENANT, type TestApp } from './support/app.js';

/**
 * Fail closed: without MicrosoftAppId no token can be checked, so /api/messages refuses every
 * activity unless ALLOW_UNAUTHENTICATED_ACTIVITIES=true, and never in Azure (the App Service
 * platform's WEBSITE_SITE_NAME / WEBSITE_INSTANCE_ID). A refused install stores nothing.
 */

describe('inbound authentication mode', () => {
  const mode = (env: Record<string, string>) => inboundAuthentication(loadConfig(env));

  it('checks tokens whenever an app ID is set', () => {
    expect(mode({ MicrosoftAppId: 'a1b2', WEBSITE_SITE_NAME: 'notifier' })).toBe('token');
    expect(mode({ MicrosoftAppId: 'a1b2', ALLOW_UNAUTHENTICATED_ACTIVITIES: 'true' })).toBe('token');
  });

  it('accepts unauthenticated activities only when explicitly allowed outside Azure', () => {
    expect(mode({ ALLOW_UNAUTHENTICATED_ACTIVITIES: 'true' })).toBe('none');
    expect(mode({})).toBe('refuse');
    expect(mode({ ALLOW_UNAUTHENTICATED_ACTIVITIES: 'false' })).toBe('refuse');
    // A container runtime's CONTAINER_NAME alone does not mean Azure.
    expect(mode({ ALLOW_UNAUTHENTICATED_ACTIVITIES: 'true', CONTAINER_NAME: 'ci' })).toBe('none');
  });

  it('refuses in Azure even when the emulator setting is on', () => {
    expect(mode({ ALLOW_UNAUTHENTICATED_ACTIVITIES: 'true', WEBSITE_SITE_NAME: 'notifier' })).toBe('refuse');
    expect(mode({ ALLOW_UNAUTHENTICATED_ACTIVITIES: 'true', WEBSITE_INSTANCE_ID: 'abc123' })).toBe('refuse');
  });

  it('names the setting when its value is not a boolean', () => {
    expect(() => loadConfig({ ALLOW_UNAUTHENTICATED_ACTIVITIES: 'yes please' })).toThrow(
      /ALLOW_UNAUTHENTICATED_ACTIVITIES must be true or false/,
    );
  });
});

async function storedUser(app: TestApp, userId: string): Promise<boolean> {
  try {
    await app.table('Conversations').getEntity(TENANT, `user|${encodeURIComponent(userId)}`);
    return true;
  } catch {
    return false;
  }
}

const scenarios: { name: string; env: Record<string, string>; startupError: RegExp }[] = [
  {
    name: 'a deployment in Azure with no MicrosoftAppId',
    env: {
      WEBSITE_SITE_NAME: 'teams-notifier-func',
      WEBSITE_INSTANCE_ID: 'a3f1c2',
      ALLOW_UNAUTHENTICATED_ACTIVITIES: 'true',
    },
    startupError: /MicrosoftAppId is not set: \/api\/messages refuses every activity.*ignored in Azure/,
  },
  {
    name: 'a local run with no MicrosoftAppId and no emulator setting',
    env: { ALLOW_UNAUTHENTICATED_ACTIVITIES: '' },
    startupError: /MicrosoftAppId is not set: \/api\/messages refuses every activity.*for a local emulator/,
  },
];

for (const scenario of scenarios) {
  describe(scenario.name, () => {
    let app: TestApp;
    beforeAll(async () => {
      // Its own process: the start-up check runs when the functions load.
      app = await startApp({ env: scenario.env, childProcess: true });
    });
    afterAll(async () => {
      await app?.stop();
    });

    it('logs an error at start-up', () => {
      expect(app.logs.some((r) => scenario.startupError.test(r.message))).toBe(true);
    });

    it('refuses every activity and stores nothing', async () => {
      const user = { id: '29:forged-user', name: 'Forged', aadObjectId: 'aad-forged' };
      const install = await app.post('messages', personalInstall(app.connector.url, user, 'a:forged-chat'));
      expect(install.status).toBe(401);
      expect(await install.json()).toEqual({
        error: 'unauthorized: the bot has no MicrosoftAppId configured',
      });
      const relay = await app.post(
        'messages',
        personalMessage(app.connector.url, user, 'a:forged-chat', 'tell @Megan hi'),
      );
      expect(relay.status).toBe(401);
      await eventually(
        () => app.logs.some((r) => /activity refused: MicrosoftAppId is not set/.test(r.message)),
        10_000,
        'the refusal in the log',
      );
      expect(await storedUser(app, user.id)).toBe(false);
      expect(app.connector.calls).toEqual([]);
    });
  });
}
