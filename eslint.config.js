import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // Hot loops use bitwise tricks and fallthrough-free big switches on purpose.
      'no-constant-condition': ['error', { checkLoops: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-case-declarations': 'off',
    },
  },
  {
    // The emulation core runs unchanged in a browser worker: no Node APIs below the host layer.
    files: ['src/isa/**', 'src/cpu/**', 'src/jit/**', 'src/devices/**', 'src/firmware/**', 'src/machine/**', 'src/net/switch/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['node:*', 'fs', 'path', 'os', 'net', 'child_process'] }],
      'no-restricted-globals': ['error', 'process', 'Buffer', 'require'],
    },
  },
);
