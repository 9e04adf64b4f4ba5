// ESLint for the dashboard's sources: TypeScript's recommended rules and
// React's hooks rules (rules of hooks, exhaustive effect dependencies, and
// the React Compiler's checks that come with the plugin's recommended set).
// `npm run lint` fails on any warning too (--max-warnings 0).
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/'] },
  {
    files: ['src/**/*.{ts,tsx}'],
    extends: [tseslint.configs.recommended, reactHooks.configs.flat.recommended],
    rules: {
      // useIncremental takes a dependency list like useMemo: check it at each call
      'react-hooks/exhaustive-deps': ['warn', { additionalHooks: '^useIncremental$' }],
    },
  },
);
