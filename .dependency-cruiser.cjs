// The layers of this repository and the rules between them (README.md, "Project layout").
// `npm test` runs `depcruise` with this file; a violation fails it with the rule's name.
//
//   cli/  →  ingest/, simulator/  →  src/
//
// src/ is the pure core; ingest/ (the node) and simulator/ (the fleet) are its two users and never
// import each other; cli/ (the telemetry command) is the only layer that imports both, and nothing
// imports it. Inside src/: errors ← config ← protocol ← device-client ← identity ← store ← pipeline ← query.
/** The folders of src/, lowest first; each may import only those before it. */
const CORE_LAYERS = ['errors', 'config', 'protocol', 'device-client', 'identity', 'store', 'pipeline', 'query'];

/** One rule per core folder: `core-order-<folder>` names the folder that imported upwards. */
function coreOrder() {
  return CORE_LAYERS.slice(0, -1).map((layer, i) => ({
    name: `core-order-${layer}`,
    severity: 'error',
    comment: `src/${layer} may import only ${CORE_LAYERS.slice(0, i).join(', ') || 'libraries'}: src/ is layered ${CORE_LAYERS.join(' ← ')}.`,
    from: { path: layer === 'errors' ? '^src/errors\\.ts$' : `^src/${layer}/` },
    to: { path: `^src/(${CORE_LAYERS.slice(i + 1).join('|')})/|^src/index\\.ts$` },
  }));
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-no-layer-above',
      severity: 'error',
      comment: 'src/ is the core that ingest/, simulator/, bridge/ and cli/ are built on; it imports none of them.',
      from: { path: '^src/' },
      to: { path: '^(ingest|simulator|bridge|cli)/' },
    },
    {
      name: 'core-has-no-sockets',
      severity: 'error',
      comment: 'src/ holds no transport: sockets, HTTP servers and MQTT live in ingest/ (and the simulator).',
      from: { path: '^src/', pathNot: '^src/store/' },
      to: {
        path: '^(node:)?(net|http|https|http2|tls|dgram|cluster)$|^(fastify|@fastify/.+|aedes|mqtt|mqtt-packet|ws)$',
        dependencyTypes: ['core', 'npm', 'npm-dev'],
      },
    },
    {
      name: 'stores-are-http-clients-only',
      severity: 'error',
      comment:
        'A store adapter (src/store/) talks to its store as an HTTP client (node:http, node:https) and serves nothing: no raw sockets, servers or MQTT.',
      from: { path: '^src/store/' },
      to: {
        path: '^(node:)?(net|http2|tls|dgram|cluster)$|^(fastify|@fastify/.+|aedes|mqtt|mqtt-packet|ws)$',
        dependencyTypes: ['core', 'npm', 'npm-dev'],
      },
    },
    {
      name: 'core-has-no-process-handling',
      severity: 'error',
      comment: "Signals, workers and exit codes are the command line's (cli/), not the core's.",
      from: { path: '^(src|ingest|simulator|bridge)/' },
      to: { path: '^(node:)?(cluster|child_process)$', dependencyTypes: ['core'] },
    },
    {
      name: 'node-and-simulator-are-independent',
      severity: 'error',
      comment: 'ingest/ (the node) and simulator/ (a client of the protocol) never import each other.',
      from: { path: '^(ingest|simulator)/' },
      to: { path: '^(ingest|simulator)/', pathNot: '^$1/' },
    },
    {
      name: 'bridge-depends-on-the-core-only',
      comment:
        'bridge/ (the signing bridge) is a client of the protocol beside the simulator: it imports src/ only, through src/index.ts.',
      severity: 'error',
      from: { path: '^bridge/' },
      to: { path: '^(ingest|simulator|cli)/|^src/', pathNot: '^src/index\\.ts$' },
    },
    {
      name: 'nothing-imports-the-bridge',
      severity: 'error',
      comment:
        'Only the command line (cli/bridge/) starts the bridge; the node, the simulator and the core never import it.',
      from: { path: '^(src|ingest|simulator)/' },
      to: { path: '^bridge/' },
    },
    {
      name: 'nothing-imports-the-cli',
      severity: 'error',
      comment: 'cli/ is the top layer: only tests, benchmarks and scripts may import it.',
      from: { path: '^(src|ingest|simulator|bridge)/' },
      to: { path: '^cli/' },
    },
    {
      name: 'cli-uses-public-faces',
      severity: 'error',
      comment:
        'The command starts the node, the simulator and the bridge through their index.ts, their public faces (and reads the bridge settings, for its help, from their own file).',
      from: { path: '^cli/' },
      to: {
        path: '^(ingest|simulator|bridge)/',
        pathNot: '^(ingest|simulator|bridge)/index\\.ts$|^bridge/settings/bridge-settings\\.ts$',
      },
    },
    {
      name: 'simulator-uses-the-public-core',
      severity: 'error',
      comment: 'The simulator is a client of the protocol, like a device: it uses src/index.ts only.',
      from: { path: '^simulator/' },
      to: { path: '^src/', pathNot: '^src/index\\.ts$' },
    },
    ...coreOrder(),
    {
      name: 'no-circular-modules',
      severity: 'error',
      comment: 'No import cycles between files.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-circular-folders',
      severity: 'error',
      scope: 'folder',
      comment: 'No import cycles between folders (src/protocol ↔ src/identity was one).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-unresolvable-imports',
      severity: 'error',
      comment: 'An import that resolves to nothing.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|test-results)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
  },
};
