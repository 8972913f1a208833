import { availableParallelism } from 'node:os';

import { defineConfig } from 'vitest/config';

// One process per test file (forks): a native crash can only take down its own file,
// never the whole run. Tests needing a CUDA backend skip themselves when it is absent.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // One fork per core. vitest's default leaves a core to its main process (CPUs - 1), which on a
    // 2-core CI machine runs the files one at a time; the main process only collects results.
    maxWorkers: availableParallelism(),
    // Leak tests call gc() between rounds to measure retained memory, not garbage.
    execArgv: ['--expose-gc'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
