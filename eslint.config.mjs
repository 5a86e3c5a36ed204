// ESLint (flat config): the language's and TypeScript's recommended rules everywhere, React hooks and Next's rules in
// app/. Formatting is Prettier's (eslint-config-prettier turns off the rules that would fight it). `npm run lint`.
import js from '@eslint/js';
import nextPlugin from '@next/eslint-plugin-next';
import prettier from 'eslint-config-prettier';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      '.next/',
      '.next-*/',
      '.data/',
      'lib/generated/',
      'tools/mongo-test-server/target/',
      '.test-results/',
      'test-results/',
      'playwright-report/',
      'docs/chaos/results/',
      'next-env.d.ts',
      // Python virtualenvs (scripts/prereqs.sh python): the packages in them ship JavaScript of their own.
      '**/.venv/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `_`-prefixed names are deliberately unused (a destructured field left out, an ignored argument).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // Types are imported as types: the import disappears at run time (and from the client bundle).
      // (`typeof import('…')` stays allowed: tests load modules after setting their environment.)
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-console': 'error',
    },
  },
  {
    files: ['app/**/*.{ts,tsx}', 'proxy.ts'],
    plugins: { 'react-hooks': reactHooks, '@next/next': nextPlugin },
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      // The rules of hooks; not the React Compiler's diagnostics that eslint-plugin-react-hooks 7 adds to its preset
      // (the app does not use the compiler, and they flag the plain "read a browser-only value after hydration" effect).
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
      ...nextPlugin.configs.recommended.rules,
      ...nextPlugin.configs['core-web-vitals'].rules,
    },
  },
  {
    // Command-line tools, benchmarks and tests print on purpose.
    files: ['scripts/**', 'bench/**', 'tests/**', 'e2e/**', 'tools/**', '*.config.*', 'prisma.config.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    // Tests read untyped JSON answers and poke at internals.
    files: ['tests/**', 'e2e/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  prettier,
);
