/**
 * The deployed entry (its bundled copy is main.js in the staged dist/deploy): turns on Node's
 * module compile cache before anything else is compiled, then loads the app (functions/index.ts).
 */
import module from 'node:module';

module.enableCompileCache?.();
await import('./index.js');
