import { defineConfig } from 'vitest/config';

// One process per test file (forks): a native crash can only take down its own file,
// never the whole run. Tests needing a CUDA backend skip themselves when it is absent.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Leak tests call gc() between rounds to measure retained memory, not garbage.
    execArgv: ['--expose-gc'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
