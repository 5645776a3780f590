import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.kosmos/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Type-aware rules: a promise nobody awaits or catches loses its error (an unhandled
    // rejection ends the process), so each one is awaited, caught where it starts, or
    // returned by a function that cannot reject. `void p` does not count as handling it.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          ignoreVoid: false,
          // An informer's first sync cannot reject, by contract: it retries and logs by itself.
          allowForKnownSafePromises: [{ from: 'file', name: 'FirstSync', path: 'src/common/informer.ts' }],
        },
      ],
    },
  },
  {
    // Its `void this.tick()` is safe (tick catches and logs); the file is being changed for
    // issue 15, so it moves to logFailure once that lands.
    files: ['src/clusterlink/controller/members.ts'],
    rules: { '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: true }] },
  },
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
