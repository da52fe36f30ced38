import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The brokers are shared and the machine has two cores: two test files at a time.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.{ts,tsx}'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.{ts,tsx}'],
          // The drills load the whole machine (many service processes each): they run on their
          // own afterwards (project `chaos`), so they neither disturb nor are disturbed by the rest.
          environment: 'node',
          // The stack (3.9), and the one Kafka 4.x broker the files that need it share.
          globalSetup: ['test/support/global-setup.ts', 'test/support/kafka4-global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'chaos',
          include: ['test/chaos/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
