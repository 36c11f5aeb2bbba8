/**
 * Issue 21: what azd uploads is what runs. The zip is made from azure.yaml the way azd makes it
 * (scripts/deploy/zip.ts follows azd's source), unpacked into an empty folder with no node_modules
 * anywhere above it, and started there on the local host, which confines the app to that folder as
 * Azure does: a job goes from the `notification-jobs` queue to a DM the Teams-like connector accepts.
 * Copies of the artifact that reach outside the folder fail, and only because of that reach.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { azdDeployZip, azdRemoteBuild, type DeployZip } from '../scripts/deploy/zip.js';
import {
  LOCAL_HOST_ENTRY,
  startLocalHostProcess,
  type LocalHostProcess,
} from '../scripts/local-host/child.js';
import { APP_DIR, BOT_ID, FUNCTION_KEY, ROOT, TENANT, hostProcessEnv } from './support/app.js';
import { startAzurite, type Azurite } from './support/azurite.js';
import { startFakeConnector, type FakeConnector } from './support/fakeConnector.js';
import { FAST_QUEUES, enqueue, seedUser, sentTo, settled } from './support/pipeline.js';

interface AzureYamlService {
  project: string;
  language: string;
  host: string;
  dist?: string;
  remoteBuild?: boolean;
}

const azureYaml = parse(readFileSync(path.join(ROOT, 'azure.yaml'), 'utf8')) as {
  services: Record<string, AzureYamlService>;
};
const service = azureYaml.services.notifier!;
const projectDir = path.resolve(ROOT, service.project);
/** What azd packages: the project folder joined with `dist` (framework_service_node.go, Package). */
const packageDir = path.resolve(projectDir, service.dist ?? '');
const REACHED_OUT = /found outside the app folder/;

let work: string;
let azurite: Azurite;
let connector: FakeConnector;
const hosts: LocalHostProcess[] = [];
let artifact: DeployZip | undefined;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'azd-artifact-'));
  [azurite, connector] = await Promise.all([startAzurite(), startFakeConnector({ rateLimits: false })]);
});

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
  await connector?.stop();
  await azurite?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const deployZip = (): DeployZip => (artifact ??= azdDeployZip(packageDir, service.remoteBuild));

/** The zip unpacked into `<work>/<name>/wwwroot`, a folder that was empty. */
function unpack(name: string): string {
  const dir = path.join(work, name, 'wwwroot');
  mkdirSync(dir, { recursive: true });
  expect(readdirSync(dir)).toEqual([]);
  for (const [file, bytes] of Object.entries(unzipSync(deployZip().zip))) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), bytes);
  }
  return dir;
}

/** The compiled local host started in `dir` (its cwd), on this Azurite and connector. */
async function startHost(dir: string, env: Record<string, string> = {}) {
  const lines: string[] = [];
  const host = await startLocalHostProcess({
    root: dir,
    port: 0,
    env: {
      ...hostProcessEnv(azurite, connector, FUNCTION_KEY),
      ...FAST_QUEUES,
      ALLOW_UNAUTHENTICATED_ACTIVITIES: 'true',
      DEFAULT_TENANT_ID: TENANT,
      ...env,
    },
    onLine: (line) => lines.push(line),
  });
  hosts.push(host);
  const get = (route: string, headers: Record<string, string> = {}) =>
    fetch(`${host.url}/api/${route}`, { headers });
  return { host, lines, app: { azurite, connector, get } };
}

describe('what azd uploads (azure.yaml, zipped as azd zips it)', () => {
  it('is the staged folder the sandbox and the tests run, deployed as it is: no build in Azure', () => {
    expect(service).toMatchObject({ host: 'function', language: 'ts', remoteBuild: false });
    expect(service.dist).toBeDefined();
    expect(packageDir).toBe(APP_DIR);
    // azd refuses `remoteBuild: false` when the project's .funcignore leaves node_modules out.
    expect(azdRemoteBuild(projectDir, service.remoteBuild)).toBe(false);
  });

  it('holds the bundle, host.json and a package.json without dependencies, nothing else', () => {
    const { files } = deployZip();
    expect(files).toContain('main.js');
    const others = files.filter((f) => !/^[\w-]+\.js$/.test(f));
    // No source maps, sources, tests, node_modules, Node binary, licence side files or folders.
    expect(others.sort()).toEqual(['host.json', 'package.json']);
    const zipped = unzipSync(deployZip().zip);
    expect(Buffer.from(zipped['host.json']!)).toEqual(readFileSync(path.join(ROOT, 'host.json')));
    const project = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      engines: unknown;
    };
    const deployed = JSON.parse(Buffer.from(zipped['package.json']!).toString('utf8')) as Record<
      string,
      unknown
    >;
    expect(deployed).toMatchObject({ type: 'module', main: 'main.js', engines: project.engines });
    for (const key of ['dependencies', 'devDependencies', 'scripts'])
      expect(deployed).not.toHaveProperty(key);
  });
});

describe('the artifact unpacked into an empty folder, on the local host started there', () => {
  it(
    'delivers a queued job as a DM with nothing above the folder to lean on',
    { timeout: 90_000 },
    async () => {
      const dir = unpack('good');
      for (let d = dir; ; d = path.dirname(d)) {
        expect(existsSync(path.join(d, 'node_modules')), `node_modules in ${d}`).toBe(false);
        if (path.dirname(d) === d) break;
      }
      const { app, lines } = await startHost(dir);
      const user = await seedUser(app);
      const text = 'Deployed from the zip azd uploads';
      const { jobId } = await enqueue(app, { recipients: [{ userId: user.userId }], message: { text } });
      const status = await settled(app, jobId, 30_000);
      expect(status.totals).toMatchObject({ recipients: 1, sent: 1, failed: 0 });
      expect(status.recipients[0]).toMatchObject({ status: 'sent' });
      const chat = connector.conversationIdFor(TENANT, user.userId, BOT_ID);
      expect(sentTo(app, chat).map((a) => a.body)).toMatchObject([{ type: 'message', text }]);
      expect(lines.filter((l) => REACHED_OUT.test(l))).toEqual([]);
    },
  );

  it('loads every chunk with the folder as the only place modules come from', async () => {
    const dir = unpack('chunks');
    const chunks = readdirSync(dir).filter((f) => f.endsWith('.js') && f !== 'main.js');
    const hostDir = path.join(path.dirname(LOCAL_HOST_ENTRY), 'local-host');
    const code = `
      import { confineModules } from ${JSON.stringify(path.join(hostDir, 'confine.js'))};
      import { FunctionRegistry, loadIntoRegistry } from ${JSON.stringify(path.join(hostDir, 'coreApi.js'))};
      import { createLogger } from ${JSON.stringify(path.join(hostDir, 'logger.js'))};
      const refused = [];
      confineModules(process.cwd(), (m) => refused.push(m));
      const registry = new FunctionRegistry(createLogger(() => undefined));
      await loadIntoRegistry(registry, () => import('./main.js'));
      const failed = [];
      for (const chunk of ${JSON.stringify(chunks)}) {
        await import('./' + chunk).catch((err) => failed.push(chunk + ': ' + err.message));
      }
      console.log(JSON.stringify({ functions: registry.functions.map((f) => f.metadata.name), failed, refused }));
      process.exit(0);`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', code], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', MicrosoftAppId: '00000000-0000-0000-0000-000000000001' },
    });
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({
      functions: [
        'messages',
        'postNotification',
        'getNotification',
        'updateNotification',
        'recallNotification',
        'notificationJobs',
        'notificationDeliveries',
        // One deliveries function per lane (docs/delivery.md#lanes), and one per lane's poison queue.
        'notificationUrgentDeliveries',
        'notificationBulkDeliveries',
        'notificationJobsPoison',
        'notificationDeliveriesPoison',
        'notificationUrgentDeliveriesPoison',
        'notificationBulkDeliveriesPoison',
        'notificationCallbacks',
        'health',
        'openApi',
      ],
      failed: [],
      refused: [],
    });
  });

  it(
    'fails when the bundle reaches outside its folder, for a path or a package',
    { timeout: 90_000 },
    async () => {
      // A path out of the folder: the file is there, one level up.
      const strayPath = unpack('stray-path');
      writeFileSync(path.join(strayPath, '..', 'outside.js'), 'export const reached = true;\n');
      const main = path.join(strayPath, 'main.js');
      writeFileSync(main, `import '../outside.js';\n${readFileSync(main, 'utf8')}`);
      await expect(startHost(strayPath)).rejects.toThrow(
        /main\.js imports '\.\.\/outside\.js', found outside/,
      );

      // A package the bundle does not carry, found on NODE_PATH (as one could be above the folder).
      const strayPackage = unpack('stray-package');
      writeFileSync(
        path.join(strayPackage, 'main.js'),
        `${readFileSync(path.join(strayPackage, 'main.js'), 'utf8')}\nrequire('fflate');\n`,
      );
      const nodePath = { NODE_PATH: path.join(ROOT, 'node_modules') };
      await expect(startHost(strayPackage, nodePath)).rejects.toThrow(
        /main\.js imports 'fflate', found outside/,
      );

      // Both copies do reach what they ask for: without the confinement they start.
      const unconfined = { LOCAL_HOST_CONFINE: '0' };
      for (const [dir, env] of [
        [strayPath, unconfined],
        [strayPackage, { ...unconfined, ...nodePath }],
      ] as const) {
        const { host } = await startHost(dir, env);
        await host.stop();
      }
    },
  );
});
