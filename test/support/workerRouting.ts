import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** One of Microsoft's real hosts, served here by a fake on 127.0.0.1 with a certificate for that name. */
export interface HostRoute {
  host: string;
  port: number;
  /** The fake's certificate (PEM), trusted for `host` only. */
  ca: string;
}

/**
 * The local host runs the app in its language worker, a process of its own, so a test that sends
 * Microsoft's real hosts (login.microsoftonline.com, graph.microsoft.com) to its fakes must do it in
 * that process. This writes a module the worker preloads (`NODE_OPTIONS=--import`, which a forked
 * process inherits with its environment): node:https connections (msal-node, @azure/identity) and
 * fetch's (undici's global dispatcher: the Graph SDK) for each host go to its fake, verified against
 * the fake's certificate for the host's name; every other host is connected as usual.
 */
export function routingEnv(routes: HostRoute[]): { NODE_OPTIONS: string } {
  const undici = pathToFileURL(createRequire(import.meta.url).resolve('undici')).href;
  const table = JSON.stringify(routes.map((r) => [r.host, { port: r.port, ca: r.ca }]));
  const source = `
import https from 'node:https';
import undici from ${JSON.stringify(undici)};
const routes = new Map(${table});
const original = https.Agent.prototype.createConnection;
https.Agent.prototype.createConnection = function (options, callback) {
  const route = routes.get(options.host);
  const target = route
    ? { ...options, host: '127.0.0.1', port: route.port, servername: options.host, ca: [route.ca] }
    : options;
  return original.call(this, target, callback);
};
const asUsual = undici.buildConnector({});
const toFake = new Map([...routes].map(([host, r]) => [host, undici.buildConnector({ ca: [r.ca] })]));
undici.setGlobalDispatcher(
  new undici.Agent({
    connect: (options, callback) => {
      const route = routes.get(options.hostname);
      return route
        ? toFake.get(options.hostname)(
            { ...options, hostname: '127.0.0.1', port: String(route.port), servername: options.hostname },
            callback,
          )
        : asUsual(options, callback);
    },
  }),
);
`;
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'worker-routing-')), 'routing.mjs');
  writeFileSync(file, source);
  return { NODE_OPTIONS: `--import ${file}` };
}
