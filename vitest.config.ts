import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // e2e suites share one sandbox per file and real kernels/servers: run files one at a time
    // so two suites never fight over ports, network namespaces or CPU on a 2-core machine.
    fileParallelism: false,
    testTimeout: 120_000,
    // One retry: e2e tests run real control planes on a 2-core machine shared with other
    // work, where a timing outlier is not a defect. A retried test is listed as such, and
    // a real defect fails both attempts.
    retry: 1,
    hookTimeout: 600_000,
    reporters: ['default'],
  },
});
