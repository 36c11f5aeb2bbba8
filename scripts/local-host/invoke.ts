/**
 * Runs one invocation the way the Node.js worker does (in worker.ts): preInvocation hooks (which may
 * replace the inputs and the handler), the handler, postInvocation hooks (which see and may change
 * the result or error).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type * as azf from '@azure/functions';
import { format } from 'node:util';
import type { FunctionRegistry, RegisteredFunction } from './coreApi.js';
import type { LogLevel } from './logger.js';

export type AzureFunctionsModule = typeof azf;

const TRACEPARENT = /^00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$/;

/**
 * The W3C trace context of one invocation, as the host passes it in InvocationContext.traceContext:
 * a new span in the caller's trace when a valid `traceparent` came in (HTTP), else a new trace.
 */
export function invocationTraceParent(incoming?: string | undefined): string {
  const match = incoming ? TRACEPARENT.exec(incoming.trim().toLowerCase()) : null;
  const traceId = match && !/^0+$/.test(match[1]!) ? match[1]! : randomBytes(16).toString('hex');
  const flags = match ? match[2]! : '01';
  return `00-${traceId}-${randomBytes(8).toString('hex')}-${flags}`;
}

const toError = (value: unknown): Error => (value instanceof Error ? value : new Error(String(value)));

export interface InvokerOptions {
  azf: AzureFunctionsModule;
  registry: FunctionRegistry;
}

export class Invoker {
  readonly #opts: InvokerOptions;

  constructor(opts: InvokerOptions) {
    this.#opts = opts;
  }

  /** The InvocationContext the handler gets, with `context.log` wired to the host's logger and log hooks. */
  createContext(
    fn: RegisteredFunction,
    init: {
      invocationId?: string;
      triggerMetadata?: Record<string, unknown>;
      /** An incoming W3C traceparent (HTTP header) this invocation continues. */
      traceParent?: string | undefined;
      traceState?: string | undefined;
    } = {},
  ): azf.InvocationContext {
    const invocationId = init.invocationId ?? randomUUID();
    const functionName = fn.metadata.name;
    const bindings = Object.values(fn.metadata.bindings);
    const trigger = bindings.find((b) => b.direction === 'in' && String(b.type).endsWith('Trigger'));
    const returnBinding = fn.metadata.bindings.$return;
    const extraInputs = bindings.filter((b) => b !== trigger && b.direction === 'in');
    const extraOutputs = Object.entries(fn.metadata.bindings)
      .filter(([key, b]) => key !== '$return' && b.direction === 'out')
      .map(([, b]) => b);
    let context: azf.InvocationContext | undefined = undefined;
    const logHandler = (level: azf.LogLevel, ...args: unknown[]): void => {
      const lvl: LogLevel = level === 'none' ? 'information' : level;
      this.#opts.registry.log(lvl, 'user', format(...args), { functionName, invocationId, context });
    };
    context = new this.#opts.azf.InvocationContext({
      invocationId,
      functionName,
      logHandler,
      triggerMetadata: init.triggerMetadata,
      traceContext: {
        traceParent: invocationTraceParent(init.traceParent),
        traceState: init.traceState,
        attributes: {},
      },
      options: {
        trigger: trigger as azf.FunctionTrigger | undefined,
        return: returnBinding as azf.FunctionOutput | undefined,
        extraInputs: extraInputs as azf.FunctionInput[],
        extraOutputs: extraOutputs as azf.FunctionOutput[],
      },
    });
    return context;
  }

  /**
   * Invokes `fn` with `inputs` (the trigger value) and `context`. Resolves with the (possibly
   * hook-modified) result; rejects with the handler's (or a hook's) error. The function timeout is the
   * host's to enforce (workerHost.ts): it stops this whole process.
   */
  invoke(fn: RegisteredFunction, inputs: unknown[], context: azf.InvocationContext): Promise<unknown> {
    return this.#run(fn, inputs, context);
  }

  async #run(fn: RegisteredFunction, inputs: unknown[], context: azf.InvocationContext): Promise<unknown> {
    const { registry } = this.#opts;
    const hookData: Record<string, unknown> = {};
    const pre: Record<string, unknown> = {
      invocationContext: context,
      inputs,
      functionCallback: fn.handler,
      hookData,
      appHookData: registry.appHookData,
    };
    for (const hook of registry.hooks('preInvocation')) await hook(pre);

    const handler = pre.functionCallback;
    const finalInputs = Array.isArray(pre.inputs) ? (pre.inputs as unknown[]) : inputs;
    let result: unknown;
    let error: unknown;
    try {
      if (typeof handler !== 'function')
        throw new TypeError('preInvocation hook set a non-function handler.');
      result = await (handler as (...args: unknown[]) => unknown)(...finalInputs, context);
    } catch (err) {
      error = toError(err);
    }

    const post: Record<string, unknown> = {
      invocationContext: context,
      inputs: finalInputs,
      result,
      error,
      hookData,
      appHookData: registry.appHookData,
    };
    for (const hook of registry.hooks('postInvocation')) await hook(post);
    if (post.error !== undefined && post.error !== null) throw toError(post.error);
    return post.result;
  }

  /** appStart / appTerminate hooks, in registration order. */
  async runAppHooks(name: 'appStart' | 'appTerminate', functionAppDirectory: string): Promise<void> {
    const { registry } = this.#opts;
    for (const hook of registry.hooks(name)) {
      await hook({ hookData: registry.appHookData, appHookData: registry.appHookData, functionAppDirectory });
    }
  }
}
