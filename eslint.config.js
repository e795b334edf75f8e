// Lint: ESLint's and typescript-eslint's recommended rules; formatting is prettier's (npm run lint runs both).
'use strict';
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const prettier = require('eslint-config-prettier');

module.exports = tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test-artifacts/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      // `_name`: a value left out on purpose (a rest sibling, an argument a signature requires).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // The editor's and the build's plain JavaScript: browser globals in the one, Node's in the other.
    files: ['resources/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        window: 'readonly',
        self: 'readonly',
        module: 'writable',
        RED: 'readonly',
        $: 'readonly',
        requestAnimationFrame: 'readonly',
        performance: 'readonly',
        document: 'readonly',
        URL: 'readonly',
        Blob: 'readonly',
        setTimeout: 'readonly',
      },
    },
  },
  {
    // The cart's touch screen runs in a browser of its own: what that page uses.
    files: ['resources/cart-screen.js'],
    languageOptions: {
      globals: {
        navigator: 'readonly',
        location: 'readonly',
        fetch: 'readonly',
        EventSource: 'readonly',
        AudioContext: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
      },
    },
  },
  {
    files: ['scripts/**/*.js', 'eslint.config.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly', console: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
