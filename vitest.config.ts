import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'proxy/**/*.test.ts',
      'wasm/**/*.test.ts',
      'control-plane/**/*.test.ts',
      'bench/**/*.test.ts',
      'test/**/*.test.ts',
      'ui/**/*.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The JSON report gives .ci/run its totals line (numPassedTests / numFailedTests).
    reporters: ['default', 'json'],
    outputFile: { json: 'dist/test-report.json' },
  },
});
