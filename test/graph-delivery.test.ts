import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, TENANT, type TestApp } from './support/app.js';
import { CATALOG_APP, graphEnv, person, startTestGraph, teamsIdOf, type TestGraph } from './support/fakeGraph.js';
import { enqueue, FAST_QUEUES, sentTo, settled, store } from './support/pipeline.js';

let graph: TestGraph;
let app: TestApp;
const newHire = person({ displayName: 'Nestor Wilke' });

beforeAll(async () => {
  graph = await startTestGraph({ users: [newHire] });
  app = await startApp({ env: { ...FAST_QUEUES, ...graphEnv(graph) } });
  graph.attach(app);
});
afterAll(async () => {
  await app?.stop();
  await graph?.stop();
});

describe('a recipient the bot never met', () => {
  it('is found in Graph, gets the app installed, and one DM in the installation chat', async () => {
    const { jobId } = await enqueue(app, { recipients: [{ upn: newHire.userPrincipalName }], message: { text: 'Welcome' } });
    const s = await settled(app, jobId);
    expect(s.recipients[0]).toMatchObject({ status: 'sent' });
    const chatId = `19:${newHire.id}_${CATALOG_APP.id}@unq.gbl.spaces`;
    expect(sentTo(app, chatId)).toHaveLength(1);
    const user = await store(app).getUser(TENANT, { kind: 'aadObjectId', value: newHire.id });
    expect(user).toMatchObject({ userId: teamsIdOf(newHire), sources: ['personal'], conversationId: chatId });
    expect(graph.requests.map((r) => `${r.route} ${r.status}`)).toEqual([
      'getUser 200',
      'installApp 201',
      'listInstalledApps 200',
      'getChat 200',
    ]);
  });
});
