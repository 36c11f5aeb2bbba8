/**
 * The deployed entry (package.json "main" is its bundled copy, dist/app/main.js): turns on Node's
 * module compile cache before anything else is compiled, then loads the app (functions/index.ts).
 */
import module from 'node:module';

module.enableCompileCache?.();
await import('./index.js');
