/**
 * In Azure the deployed folder is all the app has: nothing above it, no packages but what it carries.
 * Confined, the local host is as strict: a module that the app's own files resolve outside the app
 * folder (a path leading out of it, a package found in a node_modules above it or on NODE_PATH) is
 * refused as not found, and the refusal is reported. Builtins and `@azure/functions-core`, which the
 * Node.js language worker provides, stay allowed.
 */
import { realpathSync } from 'node:fs';
import { registerHooks, type ModuleHooks } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const WORKER_PROVIDED = new Set(['@azure/functions-core']);

/** Process-wide from here on (ModuleHooks.deregister() ends it). */
export function confineModules(root: string, onRefused: (message: string) => void): ModuleHooks {
  const inside = pathToFileURL(realpathSync(root) + path.sep).href;
  return registerHooks({
    resolve(specifier, context, nextResolve) {
      const parent = context.parentURL;
      if (!parent?.startsWith(inside) || WORKER_PROVIDED.has(specifier)) {
        return nextResolve(specifier, context);
      }
      const resolved = nextResolve(specifier, context);
      // Builtins (node:) and data: URLs are no files; a file must be inside the folder.
      if (!resolved.url.startsWith('file:') || resolved.url.startsWith(inside)) return resolved;
      const from = path.relative(fileURLToPath(inside), fileURLToPath(parent.replace(/[?#].*$/, '')));
      const message =
        `${from} imports '${specifier}', found outside the app folder (${resolved.url}): refused, ` +
        'as in Azure, where the deployed folder is all the app has';
      onRefused(message);
      const error = new Error(message) as NodeJS.ErrnoException;
      // What Node's own resolvers throw for a module they cannot find, so optional requires fall back.
      error.code = context.conditions?.includes('require') ? 'MODULE_NOT_FOUND' : 'ERR_MODULE_NOT_FOUND';
      throw error;
    },
  });
}
