import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // e2e suites share one sandbox per file and real kernels/servers: run files one at a time
    // so two suites never fight over ports, network namespaces or CPU on a 2-core machine.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 600_000,
    reporters: ['default'],
  },
});
