// What the extension's scripts share through the global scope, for `tsc` (see tsconfig.json).
//
// The scripts are classic scripts, not ES modules: the service worker loads TF.js lazily with
// importScripts(), which module workers lack. Scripts that only the browser runs (inference.js,
// remote.js, checks.js, background.js) declare their one global at top level, which tsc sees too.
// The ones Node also loads for their unit tests (settings.js, predictor.js, geometry.js,
// fetchpolicy.js) export through `module.exports` there and set a global in the browser, declared
// here. Content scripts (content.js, scanner.js) may be injected more than once, so they set a
// global only once.

declare var FaceCheckSettings: typeof import('../src/settings.js');
declare var FaceCheckPredictor: typeof import('../src/predictor.js');
declare var FaceCheckGeometry: typeof import('../src/geometry.js');
declare var FaceCheckFetchPolicy: typeof import('../src/fetchpolicy.js');
declare var FaceCheckAccess: typeof import('../src/access.js');
declare var FaceCheckProvenance: typeof import('../src/provenance.js');
declare var FaceCheckExplain: typeof import('../src/explain.js');
declare var FaceCheckBadges: Badges | undefined;
declare var FaceCheckScanner: Scanner | undefined;
declare var FaceCheckBlobReader: boolean | undefined; // content.js's blob: reader is listening

// The TF.js bundles in vendor/ (inference.js imports them on the first check).
declare var tf:
  | undefined
  | (import('../src/predictor.js').Tf & { wasm: typeof import('@tensorflow/tfjs-backend-wasm') });

// Node's CommonJS `module`, absent in the browser (the UMD wrappers test for it).
declare var module: { exports: unknown } | undefined;

// The service worker's importScripts (WorkerGlobalScope; tsconfig's lib is "dom").
declare function importScripts(...urls: string[]): void;
