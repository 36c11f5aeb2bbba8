import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each file starts its own Azurite and servers; two cores, so keep parallelism modest.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
