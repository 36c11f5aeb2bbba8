/**
 * What the local host serves, from the metadata the worker reported: HTTP routes and storage queue
 * listeners (with their connection), skipping triggers it does not support and disabled functions.
 */
import { QueueServiceClient } from '@azure/storage-queue';
import { LocalHostConfigError, resolveSettingExpressions, type HostConfig } from './config.js';
import type { CoreFunctionMetadata } from './coreApi.js';
import type { AuthLevel, HttpFunction } from './httpServer.js';
import type { Logger } from './logger.js';
import { QueueListener, type QueueInvoke } from './queueListener.js';
import { RouteTemplate } from './routes.js';

export interface LocalHostFunction {
  name: string;
  trigger: 'http' | 'queue';
  /** HTTP: methods, route (after the prefix), full URL template and auth level. */
  methods?: string[];
  route?: string;
  url?: string;
  authLevel?: AuthLevel;
  /** Queue: resolved queue name and the app setting holding the connection string. */
  queueName?: string;
  connection?: string;
}

const supportedTriggers = new Set(['httpTrigger', 'queueTrigger']);

function isDisabled(name: string, env: NodeJS.ProcessEnv): boolean {
  const value = env[`AzureWebJobs.${name}.Disabled`] ?? env[`AzureWebJobs_${name}_Disabled`];
  return value !== undefined && /^(true|1)$/i.test(value.trim());
}

function triggerOf(metadata: CoreFunctionMetadata): Record<string, unknown> | undefined {
  return Object.values(metadata.bindings).find(
    (b) => b.direction === 'in' && typeof b.type === 'string' && b.type.endsWith('Trigger'),
  );
}

export interface TriggerPlan {
  http: HttpFunction[];
  queues: QueueListener[];
  described: LocalHostFunction[];
}

export function planTriggers(o: {
  functions: CoreFunctionMetadata[];
  env: NodeJS.ProcessEnv;
  hostConfig: HostConfig;
  logger: Logger;
  leaseMs: number | undefined;
  invokeQueue: (name: string) => QueueInvoke;
}): TriggerPlan {
  const { env, logger, hostConfig } = o;
  const plan: TriggerPlan = { http: [], queues: [], described: [] };
  const clients = new Map<string, QueueServiceClient>();
  for (const metadata of o.functions) {
    const name = metadata.name;
    const trigger = triggerOf(metadata);
    const type = String(trigger?.type);
    if (!trigger || !supportedTriggers.has(type)) {
      logger.warn(
        `Function '${name}' has a ${type} trigger, which the local host does not support; skipped.`,
      );
      continue;
    }
    if (isDisabled(name, env)) {
      logger.info(`Function '${name}' is disabled (AzureWebJobs.${name}.Disabled).`);
      continue;
    }
    const outputs = Object.entries(metadata.bindings).filter(
      ([key, b]) => b !== trigger && !(key === '$return' && b.type === 'http'),
    );
    if (outputs.length > 0) {
      logger.warn(
        `Function '${name}': bindings ${outputs.map(([k, b]) => `${k} (${String(b.type)})`).join(', ')} ` +
          'are ignored by the local host (only trigger bindings are supported).',
      );
    }

    if (type === 'httpTrigger') {
      const route = String(trigger.route ?? name).replace(/^\/+|\/+$/g, '');
      const methods = (Array.isArray(trigger.methods) ? trigger.methods : ['GET', 'POST']).map((m) =>
        String(m).toUpperCase(),
      );
      const authLevel = String(trigger.authLevel ?? 'function').toLowerCase() as AuthLevel;
      if (!['anonymous', 'function', 'admin'].includes(authLevel)) {
        throw new LocalHostConfigError(
          `Function '${name}': unknown authLevel '${String(trigger.authLevel)}'.`,
        );
      }
      plan.http.push({ name, methods, route, authLevel, template: new RouteTemplate(route) });
      plan.described.push({ name, trigger: 'http', methods, route, authLevel });
      continue;
    }
    const queueName = resolveSettingExpressions(
      String(trigger.queueName ?? ''),
      env,
      `Function '${name}' queueName`,
    );
    if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(queueName)) {
      throw new LocalHostConfigError(
        `Function '${name}': '${queueName}' is not a valid queue name (3-63 lower-case letters, digits and single hyphens).`,
      );
    }
    const connection =
      typeof trigger.connection === 'string' && trigger.connection
        ? trigger.connection
        : 'AzureWebJobsStorage';
    // Like the host: the setting itself, else the same name with an "AzureWebJobs" prefix.
    const connectionString = env[connection] || env[`AzureWebJobs${connection}`];
    if (!connectionString) {
      throw new LocalHostConfigError(
        `Function '${name}': app setting '${connection}' (the storage connection string) is not set; ` +
          'add it to local.settings.json Values or the environment, e.g. "UseDevelopmentStorage=true" for Azurite.',
      );
    }
    let client = clients.get(connectionString);
    if (!client) {
      try {
        client = QueueServiceClient.fromConnectionString(connectionString, {
          retryOptions: { maxTries: 3, retryDelayInMs: 500, maxRetryDelayInMs: 4000, tryTimeoutInMs: 60_000 },
        });
      } catch (err) {
        throw new LocalHostConfigError(
          `Function '${name}': app setting '${connection}' is not a valid connection string (${(err as Error).message}).`,
        );
      }
      clients.set(connectionString, client);
    }
    plan.queues.push(
      new QueueListener({
        name,
        queueName,
        queue: client.getQueueClient(queueName),
        poisonQueue: client.getQueueClient(`${queueName}-poison`),
        options: hostConfig.queues,
        invoke: o.invokeQueue(name),
        logger,
        ...(o.leaseMs !== undefined ? { leaseMs: o.leaseMs } : {}),
      }),
    );
    plan.described.push({ name, trigger: 'queue', queueName, connection });
  }
  return plan;
}
