import { execFile, execFileSync } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_KEY, ROOT, TENANT, startApp, type TestApp } from './support/app.js';
import { seedUser } from './support/pipeline.js';

/**
 * Issue 25: a client in a second language generated from the OpenAPI document works against the
 * running app. `npm run client:python` (scripts/python-client.ts) generates it with Microsoft's
 * TypeSpec tools from npm and Debian's Python packages; Debian's azure-core (python3-azure) runs it.
 * Skipped, with a note, where those Debian packages are missing (.ci/run installs them).
 */

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const needs = ['azure.core', 'jinja2', 'black', 'docutils', 'ensurepip'];
const missing = needs.filter((module) => {
  try {
    execFileSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
});
if (missing.length)
  console.warn(
    `The generated Python client check is skipped: ${PYTHON} cannot import ${missing.join(', ')} (.ci/run installs them).`,
  );

// What docs/producers.md shows, with the key instead of a token (azure-core sends tokens over https only).
// Debian 12's azure-core (1.26) predates two things the generated code uses (the generic
// PipelineClient[...] of 1.28, SensitiveHeaderCleanupPolicy of 1.29): the shim stands in for them.
// With azure-core from PyPI nothing is needed.
const SCRIPT = `
import json, os, sys, time
import azure.core
for name in ("PipelineClient", "AsyncPipelineClient"):
    cls = getattr(azure.core, name)
    if not hasattr(cls, "__class_getitem__"):
        cls.__class_getitem__ = classmethod(lambda cls, item: cls)
from azure.core.pipeline import policies
if not hasattr(policies, "SensitiveHeaderCleanupPolicy"):  # azure-core 1.29
    class SensitiveHeaderCleanupPolicy(policies.SansIOHTTPPolicy):
        def __init__(self, **kwargs):
            pass
    policies.SensitiveHeaderCleanupPolicy = SensitiveHeaderCleanupPolicy
from teamsnotifier import TeamsNotifierClient

client = TeamsNotifierClient(endpoint=os.environ["NOTIFIER_API"], headers={"x-functions-key": os.environ["NOTIFIER_KEY"]})
accepted = client.send_notification({
    "id": "python-client-1",
    "tenantId": os.environ["TENANT"],
    "recipients": [{"upn": os.environ["UPN"]}],
    "message": {"text": "From the generated Python client"},
    "priority": "urgent",
})
for _ in range(100):
    status = client.get_notification("python-client-1")
    if status.complete:
        break
    time.sleep(0.2)
first = status.recipients[0]
print(json.dumps({"accepted": accepted.as_dict(), "sent": status.totals["sent"], "complete": status.complete,
                  "priority": status.priority, "lane": first["lane"], "waited": isinstance(first["waitMs"], int)}))
`;

describe.skipIf(missing.length > 0)('the Python client generated from the OpenAPI document', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp();
  });

  afterAll(async () => {
    await app?.stop();
  });

  it('is generated offline and sends a job and reads its status on the running app', async () => {
    await run(process.execPath, [path.join(ROOT, 'dist/scripts/python-client.js'), '--origin', app.url], {
      timeout: 300_000,
    });
    const upn = (await seedUser(app)).upn!;
    const { stdout } = await run(PYTHON, ['-c', SCRIPT], {
      env: {
        PATH: process.env.PATH,
        PYTHONPATH: path.join(ROOT, 'dist/clients/python'),
        NOTIFIER_API: `${app.url}/api`,
        NOTIFIER_KEY: FUNCTION_KEY,
        TENANT,
        UPN: upn,
      },
    });
    const out = JSON.parse(stdout.trim().split('\n').pop()!) as {
      accepted: { jobId: string };
      sent: number;
      complete: boolean;
    };
    // Issue 24: the client knows a job's priority and each delivery's lane and wait.
    expect(out).toEqual({
      accepted: expect.objectContaining({ jobId: 'python-client-1', tenantId: TENANT, priority: 'urgent' }),
      sent: 1,
      complete: true,
      priority: 'urgent',
      lane: 'urgent',
      waited: true,
    });
    expect(app.connector.accepted.map((a) => a.body.text)).toContain('From the generated Python client');
  }, 360_000);
});
