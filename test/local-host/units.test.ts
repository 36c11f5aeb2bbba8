import { describe, expect, it } from 'vitest';
import {
  parseHostJson,
  parseTimeSpan,
  readHostConfig,
  resolveSettingExpressions,
} from '../../scripts/local-host/config.js';
import { decodeBase64, toTriggerInput } from '../../scripts/local-host/queueListener.js';
import { RouteTemplate, splitPath } from '../../scripts/local-host/routes.js';
import { fixtureRoot } from './helpers.js';

describe('host.json', () => {
  it('parses TimeSpan durations', () => {
    expect(parseTimeSpan('00:01:00', 'x')).toBe(60_000);
    expect(parseTimeSpan('00:00:00.250', 'x')).toBe(250);
    expect(parseTimeSpan('1.02:00:03', 'x')).toBe(((24 + 2) * 3600 + 3) * 1000);
    expect(parseTimeSpan(1500, 'x')).toBe(1500);
    expect(() => parseTimeSpan('5 minutes', 'maxPollingInterval')).toThrow(/maxPollingInterval/);
    expect(() => parseTimeSpan('00:61:00', 'x')).toThrow();
  });

  it('uses the host defaults', () => {
    expect(parseHostJson({})).toEqual({
      routePrefix: 'api',
      queues: {
        batchSize: 16,
        newBatchThreshold: 8,
        maxPollingIntervalMs: 60_000,
        visibilityTimeoutMs: 0,
        maxDequeueCount: 5,
        messageEncoding: 'base64',
      },
      functionTimeoutMs: 30 * 60_000,
      minLogLevel: 'information',
    });
  });

  it('reads extensions.queues and http, case-insensitively', () => {
    const config = parseHostJson({
      functionTimeout: '-1',
      extensions: {
        http: { routePrefix: '' },
        Queues: { BatchSize: 10, maxPollingInterval: '00:00:02', messageEncoding: 'None' },
      },
    });
    expect(config.routePrefix).toBe('');
    expect(config.queues).toMatchObject({
      batchSize: 10,
      newBatchThreshold: 5,
      maxPollingIntervalMs: 2000,
      messageEncoding: 'none',
    });
    expect(config.functionTimeoutMs).toBeUndefined();
    expect(() => parseHostJson({ extensions: { queues: { batchSize: 64 } } })).toThrow(/batchSize/);
    expect(() => parseHostJson({ extensions: { queues: { messageEncoding: 'utf8' } } })).toThrow(
      /messageEncoding/,
    );
  });

  it('applies AzureFunctionsJobHost__ app-setting overrides to host.json', () => {
    const config = readHostConfig(fixtureRoot, {
      AzureFunctionsJobHost__extensions__queues__maxDequeueCount: '7',
      AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:03',
    });
    expect(config.queues).toMatchObject({ maxDequeueCount: 7, visibilityTimeoutMs: 3000, batchSize: 4 });
  });

  it('resolves %SETTING% expressions', () => {
    expect(resolveSettingExpressions('%A%-jobs', { A: 'notification' }, 'q')).toBe('notification-jobs');
    expect(() => resolveSettingExpressions('%MISSING%', {}, 'queueName')).toThrow(/MISSING/);
  });
});

describe('route templates', () => {
  const match = (template: string, path: string): Record<string, string> | undefined =>
    new RouteTemplate(template).match(splitPath(path) ?? [])?.params;

  it('matches literals case-insensitively and binds parameters', () => {
    expect(match('notifications/{id}', '/Notifications/abc')).toEqual({ id: 'abc' });
    expect(match('notifications/{id}', '/notifications/abc/')).toEqual({ id: 'abc' });
    expect(match('notifications/{id}', '/notifications')).toBeUndefined();
    expect(match('notifications/{id}', '/notifications/a/b')).toBeUndefined();
  });

  it('supports optional, default, constrained and catch-all parameters', () => {
    expect(match('items/{id?}', '/items')).toEqual({});
    expect(match('items/{page=1}', '/items')).toEqual({ page: '1' });
    expect(match('items/{id:int}', '/items/12')).toEqual({ id: '12' });
    expect(match('items/{id:int}', '/items/x')).toBeUndefined();
    expect(match('items/{id:guid}', '/items/0f8fad5b-d9cb-469f-a165-70867728950e')).toBeDefined();
    expect(match('files/{*path}', '/files/a/b%20c')).toEqual({ path: 'a/b c' });
    // Like ASP.NET: the last literal separates the last parameter (a.b + txt).
    expect(match('files/{name}.{ext}', '/files/a.b.txt')).toEqual({ name: 'a.b', ext: 'txt' });
  });

  it('orders literal routes before parameterised ones', () => {
    const routes = ['items/{id}', 'items/{*rest}', 'items/latest', 'items/{id:int}'].map(
      (t) => new RouteTemplate(t),
    );
    routes.sort((a, b) => a.compare(b));
    expect(routes.map((r) => r.template)).toEqual([
      'items/latest',
      'items/{id:int}',
      'items/{id}',
      'items/{*rest}',
    ]);
  });
});

describe('queue messages', () => {
  it('decodes strict base64 only', () => {
    expect(decodeBase64(Buffer.from('{"a":1}').toString('base64'))).toBe('{"a":1}');
    expect(decodeBase64('not base64!')).toBeUndefined();
    expect(decodeBase64('abc')).toBeUndefined();
    // Like Encoding.UTF8.GetString: invalid UTF-8 becomes U+FFFD, a BOM is kept.
    expect(decodeBase64(Buffer.from([0xff, 0x41]).toString('base64'))).toBe('\uFFFDA');
    expect(decodeBase64(Buffer.from('\uFEFF{"a":1}').toString('base64'))).toBe('\uFEFF{"a":1}');
    expect(decodeBase64('eyJh\nIjoxfQ==')).toBe('{"a":1}');
  });

  it('parses JSON objects and arrays, leaves everything else a string', () => {
    expect(toTriggerInput('{"a":1}')).toEqual({ a: 1 });
    expect(toTriggerInput('[1,2]')).toEqual([1, 2]);
    expect(toTriggerInput('123')).toBe('123');
    expect(toTriggerInput('{not json}')).toBe('{not json}');
    expect(toTriggerInput('hello')).toBe('hello');
    // A BOM is not JSON whitespace: the function gets the text, BOM included.
    expect(toTriggerInput('\uFEFF{"a":1}')).toBe('\uFEFF{"a":1}');
  });
});
