/**
 * A stand-in for `@azure/functions-core`, the module the real Node.js language worker provides to the
 * `@azure/functions` package. Outside the worker that package runs in "test mode" and drops every
 * `app.http(...)`/`app.storageQueue(...)`/`app.hook.*` call; with this module installed those calls
 * land in a {@link FunctionRegistry} instead, so the local host serves exactly what the app registers.
 */
import Module, { createRequire } from 'node:module';
import { format } from 'node:util';
import type { LogLevel, Logger } from './logger.js';

export interface CoreBindingInfo {
  type?: string;
  direction?: 'in' | 'out' | 'inout';
  name?: string;
  [key: string]: unknown;
}

/** What `toCoreFunctionMetadata` in @azure/functions produces. */
export interface CoreFunctionMetadata {
  name: string;
  bindings: Record<string, CoreBindingInfo>;
  retryOptions?: unknown;
}

export type CoreFunctionCallback = (...args: unknown[]) => unknown;
export type CoreHookCallback = (context: Record<string, unknown>) => unknown;

export interface Disposable {
  dispose(): void;
}

export interface RegisteredFunction {
  metadata: CoreFunctionMetadata;
  handler: CoreFunctionCallback;
}

export const hookNames = ['preInvocation', 'postInvocation', 'appStart', 'appTerminate', 'log'] as const;
export type HookName = (typeof hookNames)[number];

const coreLogLevels = new Set<string>(['trace', 'debug', 'information', 'warning', 'error', 'critical']);

/** Functions and hooks registered by one app load. */
export class FunctionRegistry {
  readonly functions: RegisteredFunction[] = [];
  /** Shared by appStart/appTerminate hooks (and offered to invocation hooks as `appHookData`). */
  readonly appHookData: Record<string, unknown> = {};
  #hooks = new Map<HookName, CoreHookCallback[]>();
  #locked = false;
  #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** After startup the worker refuses new functions; so do we. */
  lock(): void {
    this.#locked = true;
  }

  registerFunction(metadata: CoreFunctionMetadata, handler: CoreFunctionCallback): Disposable {
    if (this.#locked) {
      throw new Error(`Function "${metadata?.name}" can only be registered during app startup.`);
    }
    if (!metadata || typeof metadata.name !== 'string' || !metadata.bindings) {
      throw new TypeError('registerFunction: invalid function metadata.');
    }
    if (typeof handler !== 'function') {
      throw new TypeError(`registerFunction: the handler of function "${metadata.name}" is not a function.`);
    }
    const lower = metadata.name.toLowerCase();
    if (this.functions.some((f) => f.metadata.name.toLowerCase() === lower)) {
      throw new Error(`A function with the name "${metadata.name}" has already been registered.`);
    }
    const entry: RegisteredFunction = { metadata, handler };
    this.functions.push(entry);
    return {
      dispose: () => {
        if (this.#locked) throw new Error('Functions cannot be unregistered after app startup.');
        const index = this.functions.indexOf(entry);
        if (index >= 0) this.functions.splice(index, 1);
      },
    };
  }

  registerHook(hookName: string, callback: CoreHookCallback): Disposable {
    if (!(hookNames as readonly string[]).includes(hookName)) {
      throw new RangeError(`"${hookName}" is not a valid hook name.`);
    }
    if (typeof callback !== 'function') throw new TypeError(`The ${hookName} hook is not a function.`);
    const name = hookName as HookName;
    const list = this.#hooks.get(name) ?? [];
    list.push(callback);
    this.#hooks.set(name, list);
    return {
      dispose: () => {
        const current = this.#hooks.get(name);
        const index = current?.indexOf(callback) ?? -1;
        if (current && index >= 0) current.splice(index, 1);
      },
    };
  }

  /** Snapshot, so hooks disposing themselves during a run do not skip others. */
  hooks(name: HookName): CoreHookCallback[] {
    return [...(this.#hooks.get(name) ?? [])];
  }

  /**
   * Runs `log` hooks (they may change level and message, like in the worker) and writes the record.
   */
  log(
    level: LogLevel,
    category: 'system' | 'user',
    message: string,
    invocation?: { functionName: string; invocationId: string; context?: unknown },
  ): void {
    const hookContext: Record<string, unknown> = {
      level,
      category,
      message,
      invocationContext: invocation?.context,
      hookData: {},
    };
    for (const hook of this.hooks('log')) {
      try {
        hook(hookContext);
      } catch (err) {
        this.#logger.warn(`A log hook threw: ${String(err)}`);
      }
    }
    const finalLevel = coreLogLevels.has(String(hookContext.level)) ? (hookContext.level as LogLevel) : level;
    this.#logger.log(finalLevel, String(hookContext.message), {
      category,
      functionName: invocation?.functionName,
      invocationId: invocation?.invocationId,
    });
  }
}

const CORE_MODULE = '@azure/functions-core';
/** require.cache key of the stand-in; not a real file. */
const CORE_MODULE_ID = '\0local-host/@azure/functions-core';
const installedKey = Symbol.for('teams-notifier.local-host.core-api');

interface CoreApiState {
  active: FunctionRegistry | undefined;
}

type ResolveFilename = (request: string, ...rest: unknown[]) => string;

function state(): CoreApiState {
  const holder = globalThis as unknown as Record<symbol, CoreApiState | undefined>;
  let current = holder[installedKey];
  if (!current) {
    current = { active: undefined };
    holder[installedKey] = current;
    installModule(current);
  }
  return current;
}

function requireActive(current: CoreApiState): FunctionRegistry {
  if (!current.active) throw new Error('@azure/functions-core: no local host is loading functions.');
  return current.active;
}

function installModule(current: CoreApiState): void {
  const exports = {
    registerFunction: (metadata: CoreFunctionMetadata, handler: CoreFunctionCallback): Disposable =>
      requireActive(current).registerFunction(metadata, handler),
    registerHook: (hookName: string, callback: CoreHookCallback): Disposable =>
      requireActive(current).registerHook(hookName, callback),
    setProgrammingModel: (_model: unknown): void => {
      // The worker uses the programming model to convert RPC data; the local host builds the
      // @azure/functions objects itself, so there is nothing to keep.
    },
    getProgrammingModel: (): undefined => undefined,
    log: (level: string, category: string, ...args: unknown[]): void => {
      const message = format(...args);
      const lvl = (coreLogLevels.has(level) ? level : 'information') as LogLevel;
      const cat = category === 'user' ? 'user' : 'system';
      if (current.active) {
        current.active.log(lvl, cat, message);
      } else {
        console.log(`[${lvl}] ${message}`);
      }
    },
  };

  const module = new Module(CORE_MODULE_ID);
  module.filename = CORE_MODULE_ID;
  module.loaded = true;
  module.exports = exports;
  const require = createRequire(import.meta.url);
  require.cache[CORE_MODULE_ID] = module;

  const moduleInternals = Module as unknown as { _resolveFilename: ResolveFilename };
  const original = moduleInternals._resolveFilename;
  moduleInternals._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
    if (request === CORE_MODULE) return CORE_MODULE_ID;
    return original.call(this, request, ...rest);
  };
}

let loadQueue: Promise<unknown> = Promise.resolve();
/**
 * Makes `require('@azure/functions-core')` return the stand-in (once per process) and routes its
 * calls to `registry` while `load` runs. Loads are serialised: the @azure/functions package is a
 * process-wide singleton. Hooks registered later (at runtime) go to the most recently loaded registry.
 */
export function loadIntoRegistry<T>(registry: FunctionRegistry, load: () => Promise<T>): Promise<T> {
  const current = state();
  const run = async (): Promise<T> => {
    current.active = registry;
    return load();
  };
  const result = loadQueue.then(run, run);
  loadQueue = result.catch(() => undefined);
  return result;
}
