import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['proxy/**/*.test.ts', 'wasm/**/*.test.ts', 'control-plane/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
