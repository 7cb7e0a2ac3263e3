// Type-checked typescript-eslint, Prettier compatibility and sorted imports.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import simpleImportSort from 'eslint-plugin-simple-import-sort';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.artifacts/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'simple-import-sort': simpleImportSort },
    rules: {
      'simple-import-sort/imports': 'error',
      'simple-import-sort/exports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/explicit-module-boundary-types': 'off',
    },
  },
  {
    // No work runs after an HTTP response or a Functions invocation returns: the host may recycle an instance with
    // nothing in flight at any moment. no-floating-promises still accepts `void p`, `p.catch(f)` and `p.then(f, g)`;
    // in these folders a promise is awaited or returned instead. Where leaving one is right, say why on the line
    // (`// eslint-disable-next-line no-restricted-syntax -- why`).
    files: ['src/handlers/**/*.ts', 'src/functions/**/*.ts', 'src/http/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "ExpressionStatement > CallExpression[callee.type='MemberExpression'][callee.property.name=/^(then|catch|finally)$/]",
          message:
            'A promise chain left running as a statement outlives the response or invocation: await it (or return it).',
        },
        {
          selector: "UnaryExpression[operator='void']",
          message:
            '`void` leaves the promise running after the response or invocation: await it (or return it).',
        },
        {
          selector:
            "CallExpression[callee.name=/^(setImmediate|queueMicrotask)$/], CallExpression[callee.object.name='process'][callee.property.name='nextTick']",
          message: 'Work deferred this way runs after the response or invocation: do it before returning.',
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/unbound-method': 'off' },
  },
  prettier,
);
