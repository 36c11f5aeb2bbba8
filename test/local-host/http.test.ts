import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startLocalHost, type LocalHost } from '../../scripts/local-host/index.js';
import { fixtureEvents, fixtureRoot, logCollector, waitFor } from './helpers.js';

const KEY = 'test-function-key';

describe('local host: HTTP triggers', () => {
  let host: LocalHost;
  const logs = logCollector();
  const events = fixtureEvents();

  beforeAll(async () => {
    host = await startLocalHost({
      root: fixtureRoot,
      port: 0,
      log: logs.log,
      env: {
        FUNCTIONS_KEY: KEY,
        FUNCTIONS_MAX_BODY_BYTES: '1024',
        FIXTURE_EVENTS: events.file,
        // This file needs no storage: switch the queue-triggered functions off.
        'AzureWebJobs.jobs.Disabled': 'true',
        'AzureWebJobs.failing.Disabled': 'true',
        'AzureWebJobs.slow.Disabled': 'true',
        'AzureWebJobs.hang.Disabled': 'true',
      },
    });
  });

  afterAll(async () => {
    await host?.stop();
  });

  it('lists the registered HTTP functions with their routes', () => {
    const byName = new Map(host.functions.map((f) => [f.name, f]));
    expect(byName.get('getItem')).toMatchObject({
      trigger: 'http',
      methods: ['GET'],
      url: `${host.url}/api/items/{id}`,
      authLevel: 'anonymous',
    });
    expect(byName.get('echo')).toMatchObject({
      methods: ['POST'],
      url: `${host.url}/api/echo`,
      authLevel: 'function',
    });
    expect(byName.has('jobs')).toBe(false);
    expect(host.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('binds route parameters and query, returns JSON', async () => {
    const res = await fetch(`${host.url}/api/items/42?q=hello`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ id: '42', q: 'hello' });

    const caseInsensitive = await fetch(`${host.url}/API/Items/a%20b`);
    expect(await caseInsensitive.json()).toEqual({ id: 'a b', q: null });

    const complex = await fetch(`${host.url}/api/files/report.pdf`);
    expect(await complex.json()).toEqual({ name: 'report', ext: 'pdf' });
  });

  it('filters methods (405 with Allow) and answers 404 for unknown routes', async () => {
    const del = await fetch(`${host.url}/api/items/7`, { method: 'DELETE' });
    expect(del.status).toBe(204);

    // items/{id:int} does not match "abc"; items/{id} does, but only for GET.
    const wrongMethod = await fetch(`${host.url}/api/items/abc`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET');

    const put = await fetch(`${host.url}/api/items/7`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')?.split(', ').sort()).toEqual(['DELETE', 'GET']);

    expect((await fetch(`${host.url}/api/does-not-exist`)).status).toBe(404);
    expect((await fetch(`${host.url}/items/42`)).status).toBe(404); // outside the route prefix
    expect((await fetch(`${host.url}/`)).status).toBe(200); // host root page
  });

  it('requires the function key for authLevel function (header or ?code=)', async () => {
    const post = (path: string, headers: Record<string, string> = {}): Promise<Response> =>
      fetch(`${host.url}${path}`, {
        method: 'POST',
        body: 'hi there',
        headers: { 'content-type': 'text/plain', ...headers },
      });

    expect((await post('/api/echo')).status).toBe(401);
    expect((await post('/api/echo', { 'x-functions-key': 'wrong' })).status).toBe(401);
    expect((await post(`/api/echo?code=${KEY}`)).status).toBe(201);

    const res = await post('/api/echo', { 'x-functions-key': KEY });
    expect(res.status).toBe(201);
    expect(await res.text()).toBe('hi there');
    expect(res.headers.get('x-echo')).toBe('yes');
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(res.headers.get('set-cookie')).toBe('seen=1; HttpOnly');

    // context.log reaches the log sink, tagged with function name and invocation id.
    const userLog = logs.records.find((r) => r.category === 'user' && r.message === 'echoing 8 chars');
    expect(userLog).toMatchObject({ functionName: 'echo', level: 'information' });
    expect(userLog?.invocationId).toMatch(/^[0-9a-f-]{36}$/);

    // One line per request at the default level. echo logs its own line, so the request line and
    // the Executing/Executed boilerplate are debug-level; getItem logs nothing, so its request line
    // is its one line.
    expect((await fetch(`${host.url}/api/items/5`)).status).toBe(200);
    await vi.waitFor(() =>
      expect(logs.records).toContainEqual(
        expect.objectContaining({
          level: 'information',
          message: expect.stringMatching(/^GET \/api\/items\/5 -> 200 \(\d+ ms\)$/),
        }),
      ),
    );
    const echoLines = logs.records.filter((r) => r.invocationId === userLog?.invocationId);
    expect(echoLines.map((r) => r.message)).toEqual(['echoing 8 chars']);
    expect(logs.records.some((r) => /^Execut(ing|ed) '/.test(r.message))).toBe(false);
  });

  it('rejects bodies over FUNCTIONS_MAX_BODY_BYTES with 413', async () => {
    const big = 'x'.repeat(2048);
    const res = await fetch(`${host.url}/api/echo`, {
      method: 'POST',
      body: big,
      headers: { 'x-functions-key': KEY },
    });
    expect(res.status).toBe(413);

    // Without Content-Length (chunked), the limit applies while reading.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${host.url}/api/echo`,
        { method: 'POST', headers: { 'x-functions-key': KEY } },
        (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write('y'.repeat(800));
      req.write('y'.repeat(800));
      req.end();
    });
    expect(status).toBe(413);

    const ok = await fetch(`${host.url}/api/echo`, {
      method: 'POST',
      body: 'x'.repeat(1024),
      headers: { 'x-functions-key': KEY },
    });
    expect(ok.status).toBe(201);
  });

  it('turns an exception into a generic 500 and logs the error', async () => {
    const res = await fetch(`${host.url}/api/boom`);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).toBe('Internal Server Error');
    const failure = logs.records.find((r) => r.functionName === 'boom' && r.level === 'error');
    expect(failure?.message).toContain('secret internal detail');
    expect(failure?.invocationId).toBeDefined();
  });

  it('streams HttpResponse bodies and maps an empty result to 204', async () => {
    const res = await fetch(`${host.url}/api/stream`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('one,two');

    const nothing = await fetch(`${host.url}/api/nothing`);
    expect(nothing.status).toBe(204);
  });

  it('runs hooks: preInvocation can replace the handler, postInvocation the result', async () => {
    const res = await fetch(`${host.url}/api/hooked`);
    expect(await res.text()).toBe('replaced by preInvocation + postInvocation');
    expect(res.headers.get('x-hooked')).toBe('yes');
    const kinds = events.read().map((e) => e.kind);
    expect(kinds[0]).toBe('appStart');
    expect(kinds).toContain('pre:hooked');
    expect(kinds).toContain('post:hooked:true'); // hookData is shared between pre and post
    // The app runs in a worker process of its own, not in the host's.
    expect(events.read('appStart')[0]?.pid).not.toBe(process.pid);
  });

  it('leaves the environment alone and runs appTerminate on stop', async () => {
    const secondEvents = fixtureEvents();
    const second = await startLocalHost({
      root: fixtureRoot,
      port: 0,
      log: () => {},
      env: {
        FUNCTIONS_KEY: 'other',
        FIXTURE_EVENTS: secondEvents.file,
        'AzureWebJobs.jobs.Disabled': 'true',
        'AzureWebJobs.failing.Disabled': 'true',
        'AzureWebJobs.slow.Disabled': 'true',
        'AzureWebJobs.hang.Disabled': 'true',
      },
    });
    // A second host in the same process runs the app in its own worker and serves it independently.
    expect((await fetch(`${second.url}/api/items/1`)).status).toBe(200);
    expect(
      (await fetch(`${second.url}/api/echo`, { method: 'POST', headers: { 'x-functions-key': 'other' } }))
        .status,
    ).toBe(201);
    await second.stop();
    expect(process.env.FUNCTIONS_KEY).toBeUndefined(); // the settings went to the hosts, not this process
    expect(
      secondEvents
        .read()
        .filter((e) => e.kind.startsWith('appTerminate'))
        .map((e) => e.kind),
    ).toEqual(['appTerminate:number']);
    expect(events.read().some((e) => e.kind.startsWith('appTerminate'))).toBe(false);
    await waitFor(async () => (await fetch(`${host.url}/api/items/2`)).status === 200, 'the first host');
  });
});
