/**
 * The layers (docs/architecture.md has the drawing), enforced on every
 * `npm test`. Type-only imports count too: a layer that names another's types
 * depends on it.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Modules must not depend on each other in a circle.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'src/domain holds the rules: it imports nothing of ours but itself (npm packages and node built-ins are fine).',
      from: { path: '^src/domain/' },
      to: { path: '^(src|db)/', pathNot: '^src/domain/' },
    },
    {
      name: 'services-own-ports-not-implementations',
      severity: 'error',
      comment: 'Services use ports (services/ports.ts, carriers/provider.ts): never a store, a transport, a carrier adapter or the schema.',
      from: { path: '^src/services/' },
      to: { path: '^(src/(http|media|store|carriers|providers/(?!provider\\.ts))|db/|src/gateway\\.ts|src/main\\.ts)' },
    },
    {
      name: 'http-never-touches-the-database',
      severity: 'error',
      comment: 'src/http translates and delegates to services: no store, no schema, no driver.',
      from: { path: '^src/http/' },
      to: { path: '^(src/store|db)/|^node_modules/(better-sqlite3|pg|drizzle-orm)/' },
    },
    {
      name: 'media-and-routing-never-touch-the-database',
      severity: 'error',
      comment: 'The media bridge and the routing table reach storage through ports only.',
      from: { path: '^src/(media|routing|carriers)/' },
      to: { path: '^(src/store|db)/|^node_modules/(better-sqlite3|pg|drizzle-orm)/' },
    },
    {
      name: 'only-wiring-opens-stores',
      severity: 'error',
      comment: 'Only the wiring (gateway.ts) picks a store implementation.',
      from: { path: '^src/', pathNot: '^src/(store/|gateway\\.ts)' },
      to: { path: '^src/store/' },
    },
    {
      name: 'drivers-only-in-stores',
      severity: 'error',
      comment: 'A database driver or drizzle is used under src/store and db/ only.',
      from: { path: '^src/', pathNot: '^src/store/' },
      to: { path: '^node_modules/(better-sqlite3|pg|drizzle-orm)/' },
    },
    {
      name: 'no-orphans',
      severity: 'error',
      comment: 'A source file nothing imports is dead code.',
      from: { orphan: true, path: '^src/', pathNot: '^src/main\\.ts$|\\.d\\.ts$' },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js', '.mjs', '.cjs'],
    },
    moduleSystems: ['es6', 'cjs'],
  },
};
