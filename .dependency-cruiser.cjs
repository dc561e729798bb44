// The generator's import direction (docs/ARCHITECTURE.md): every import points down.
//   CLI         lib/cli, lib/update (xms update), generators/plopfile.ts
//   generators  generators/<name>/, generators/scaffold.ts, generators/registry.ts
//   kit         generators/kit/ (what every generator shares), generators/types.ts
//   app         lib/app/ (renders the app: templates, presets, versions)
//   bottom      lib/engine/, lib/matrix/, lib/check/, lib/update/record.ts (an app's xms.json)
//               (lib/engine imports nothing of ours)
// `npm run lint:deps` checks it; test/infra/layers.test.ts runs the same check.
const CLI = '^(lib/cli/|lib/update/(?!record\\.ts$)|generators/plopfile\\.ts$)';
const GENERATORS = '^(generators/(table|csv-import|admin-function|auth|harden)/|generators/scaffold\\.ts$|generators/registry\\.ts$)';
const KIT = '^(generators/kit/|generators/types\\.ts$)';
const APP = '^lib/app/';
const BOTTOM = '^(lib/(engine|matrix|check)/|lib/update/record\\.ts$)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'engine-imports-nothing-of-ours', severity: 'error', from: { path: '^lib/engine/' }, to: { path: '^(lib|generators)/', pathNot: '^lib/engine/' } },
    { name: 'bottom-points-down', severity: 'error', comment: 'matrix and check use the engine (and each other), nothing above', from: { path: BOTTOM }, to: { path: `${CLI}|${GENERATORS}|${KIT}|${APP}` } },
    { name: 'app-rendering-points-down', severity: 'error', from: { path: APP }, to: { path: `${CLI}|${GENERATORS}|${KIT}` } },
    { name: 'kit-points-down', severity: 'error', comment: 'the kit is shared by the generators, it is none of them', from: { path: KIT }, to: { path: `${CLI}|${GENERATORS}` } },
    { name: 'generators-point-down', severity: 'error', from: { path: GENERATORS }, to: { path: CLI } },
    {
      name: 'generators-are-independent',
      severity: 'error',
      comment: 'a generator shares code through the kit, never by importing another generator',
      from: { path: '^generators/([^/]+)/', pathNot: '^generators/kit/' },
      to: { path: '^generators/([^/]+)/', pathNot: ['^generators/$1/', '^generators/kit/'] },
    },
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
