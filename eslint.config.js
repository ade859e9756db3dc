import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'build/', 'build-cmake/', 'artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.object.name='process'][callee.property.name='exit']", message: 'process.exit only in src/server.ts and CLI entry points' }],
    },
  },
  { files: ['src/server.ts', 'src/cli/main.ts', 'tools/**', 'bench/**'], rules: { 'no-restricted-syntax': 'off' } },
  {
    // the dashboard: plain ES modules run by the browser
    files: ['public/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(['window', 'document', 'location', 'history', 'localStorage', 'fetch', 'Node', 'URLSearchParams', 'AbortController',
        'TextDecoderStream', 'ResizeObserver', 'FileReader', 'requestAnimationFrame', 'cancelAnimationFrame', 'setTimeout', 'clearTimeout', 'console', 'URL'].map((g) => [g, 'readonly'])),
    },
  },
);
