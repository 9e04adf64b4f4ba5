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
    },
  }),
);
