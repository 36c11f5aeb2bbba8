import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each file starts its own Azurite and servers. The longest files mostly wait (a 2-minute
    // outage, a lease running out), so three at once on two cores: 360 s instead of 540 s.
    fileParallelism: true,
    maxWorkers: 3,
  },
});
