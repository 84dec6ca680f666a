import { defineConfig } from 'vitest/config';

// Forks, not threads: a worker thread that opens a real serial port crashes the runner.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['tests/**/*.test.ts', 'src/**/*.test.ts', 'drivers/**/*.test.ts', 'simulators/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    globalSetup: ['tests/helpers/global-setup.ts'],
    passWithNoTests: false,
  },
});
