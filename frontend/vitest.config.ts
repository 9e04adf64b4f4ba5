import { defineConfig, mergeConfig } from 'vitest/config';
import viteConfig from './vite.config.ts';

export default mergeConfig(
  viteConfig,
  defineConfig({
    test: {
      include: ['src/**/*.test.{ts,tsx}'],
      // Pure modules run in Node; component tests opt into jsdom with a
      // `@vitest-environment jsdom` comment.
      environment: 'node',
      restoreMocks: true,
      // Tests wait on conditions, never on time; Vitest's default 5 s limit per test
      // failed six of them in a clean-clone run on a 2-core machine at load average 18.
      testTimeout: 30_000,
    },
  }),
);
