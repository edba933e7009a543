// ESLint for the extension and the server's drop page. Paths are relative to the repository
// root, where `npm run lint` (and so `make lint`) runs it: `eslint -c extension/eslint.config.mjs`.
import js from '@eslint/js';
import globals from 'globals';

// The globals the extension's scripts share (types/globals.d.ts says who sets which).
const shared = {
  FaceCheckSettings: 'readonly',
  FaceCheckPredictor: 'readonly',
  FaceCheckGeometry: 'readonly',
  FaceCheckFetchPolicy: 'readonly',
  FaceCheckAccess: 'readonly',
  FaceCheckInference: 'readonly',
  FaceCheckProvenance: 'readonly',
  FaceCheckRemote: 'readonly',
  FaceCheckChecks: 'readonly',
  module: 'readonly', // Node's, which the UMD wrappers test for
};

export default [
  js.configs.recommended,
  {
    rules: {
      'no-unused-vars': ['error', { ignoreRestSiblings: true }],
      eqeqeq: ['error', 'smart'],
      'no-var': 'error',
      'prefer-const': 'error',
      // As tests/test_code_shape.py for Python: no function over 60 lines. A module's IIFE wrapper
      // is not a function in this sense (IIFEs are skipped); the UMD factories of settings.js and
      // predictor.js say so where they start.
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ['extension/src/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: { ...globals.browser, ...globals.serviceworker, ...globals.webextensions, ...shared },
    },
  },
  // A script that declares a shared global at top level defines it rather than reading it.
  ...['Inference', 'Remote', 'Checks'].map((name) => ({
    files: [`extension/src/${name.toLowerCase()}.js`],
    languageOptions: { globals: { [`FaceCheck${name}`]: 'off' } },
  })),
  {
    files: ['extension/test/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
  },
  {
    files: ['server/static/**/*.js'],
    languageOptions: { sourceType: 'script', globals: globals.browser },
  },
];
