import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TENANT, startApp, type TestApp } from './support/app.js';
import { sentTo, store } from './support/pipeline.js';
import {
  applicationSearch,
  cardActionInvoke,
  signinVerifyState,
  taskInvoke,
} from './fixtures/cardInvokes.js';
import { PEOPLE } from './fixtures/teams.js';

/**
 * Issue 21, item 6: every invoke a card's button or input makes Teams send is answered 200 (Teams
 * shows "something went wrong" for anything else); only invokes no card of this app sends get 501.
 * Payloads from Microsoft's pages (test/fixtures/cardInvokes.ts); the list of invokes from
 * botbuilder-js's TeamsActivityHandler.onInvokeActivity.
 */

let app: TestApp;
const chat = 'a:1card-invokes-personal-chat-adele';

beforeAll(async () => {
  app = await startApp({ env: { ALLOWED_TENANT_IDS: TENANT } });
  app.connector.registerConversation(chat, { tenantId: TENANT, members: [{ id: PEOPLE.adele.id }] });
});

afterAll(async () => {
  await app?.stop();
});

describe('card invokes', () => {
  it('answers an invoke card action (an invoke with no name) 200, without a reply, and refreshes the sender', async () => {
    const before = sentTo(app, chat).length;
    const res = await app.post('messages', cardActionInvoke(app.connector.url, PEOPLE.adele, chat));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(sentTo(app, chat)).toHaveLength(before);
    // Like an Action.Submit: the press refreshes the sender's record.
    expect(await store(app).getUserById(TENANT, PEOPLE.adele.id)).toMatchObject({
      aadObjectId: PEOPLE.adele.objectId,
    });
    expect(app.logs.some((l) => /card action invoke: answered 200/.test(l.message))).toBe(true);
  });

  it('answers task/fetch with a message Teams shows, and task/submit with a bare 200', async () => {
    const fetched = await app.post(
      'messages',
      taskInvoke(app.connector.url, PEOPLE.adele, chat, 'task/fetch'),
    );
    expect(fetched.status).toBe(200);
    const body = (await fetched.json()) as { task: { type: string; value: unknown } };
    expect(body.task.type).toBe('message');
    expect(body.task.value).toMatch(/no dialogs/);
    const submitted = await app.post(
      'messages',
      taskInvoke(app.connector.url, PEOPLE.adele, chat, 'task/submit'),
    );
    expect(submitted.status).toBe(200);
    expect(await submitted.text()).toBe('');
  });

  it('answers a typeahead search with an empty search response, and a sign-in state with 200', async () => {
    const search = await app.post('messages', applicationSearch(app.connector.url, PEOPLE.adele, chat));
    expect(search.status).toBe(200);
    expect(await search.json()).toEqual({
      type: 'application/vnd.microsoft.search.searchResponse',
      value: { results: [] },
    });
    const signin = await app.post('messages', signinVerifyState(app.connector.url, PEOPLE.adele, chat));
    expect(signin.status).toBe(200);
  });

  it('answers 501 with a reason to the invokes no card of this app sends', async () => {
    // Message extensions, tabs, configuration pages, file consent and connector cards: none declared or sent.
    const names = [
      'composeExtension/query',
      'composeExtension/fetchTask',
      'config/fetch',
      'tab/fetch',
      'fileConsent/invoke',
      'actionableMessage/executeAction',
      'message/submitAction',
    ];
    for (const name of names) {
      const res = await app.post('messages', {
        ...cardActionInvoke(app.connector.url, PEOPLE.adele, chat),
        name,
      });
      expect(res.status, name).toBe(501);
      expect(await res.json(), name).toEqual({ error: 'the bot does not handle invoke activities' });
    }
  });
});
