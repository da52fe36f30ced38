// Dependency direction (shared/STYLE.md, issue 18). src/ has three areas: the product (everything
// in src/ outside ops/ and devstack/), the operations API (src/ops) and the dev stack
// (src/devstack), which may use the other two but is never used by them. commands/ and ui/ go
// through src/ops, never through each other, a driver or an adapter. Nothing that ships imports
// test code, and there are no import cycles, type-only imports included: a type import is still a
// dependency between modules, and `config.ts <-> stack/paths.ts` hid behind one.
//
// Usage: node scripts/check-deps.mjs [root]   (root defaults to this repository)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
const DRIVERS = ['kafkajs', 'amqplib', 'pg', '@kafkajs/confluent-schema-registry'];
const SCANNED = ['src', 'commands', 'ui', 'bin', 'test'];
const SHIPPED = new Set(['product', 'ops', 'devstack', 'commands', 'ui', 'bin']);
const CLI = new Set(['commands', 'ui']);

/** The area a repository-relative path (POSIX separators, no extension needed) belongs to. */
function areaOf(path) {
  const [top, second] = path.split('/');
  if (top === 'src') return second === 'ops' ? 'ops' : second === 'devstack' ? 'devstack' : 'product';
  return top === 'fixtures' ? 'test' : top;
}

/**
 * The rules, each named for what it forbids. `check` gets the importing and the imported side
 * ({ path, area } for a file in the repository, { pkg } for a package) and returns the reason
 * when the import breaks the rule.
 */
const RULES = [
  {
    name: 'product-imports-ops',
    check: (from, to) => from.area === 'product' && to.area === 'ops' && 'the product must not use src/ops',
  },
  {
    name: 'product-imports-devstack',
    check: (from, to) =>
      from.area === 'product' && to.area === 'devstack' && 'the product must not use the dev stack',
  },
  {
    name: 'ops-imports-devstack',
    check: (from, to) =>
      from.area === 'ops' &&
      to.area === 'devstack' &&
      'the operations API must work against any cluster, not only the dev stack',
  },
  {
    name: 'src-imports-cli',
    check: (from, to) =>
      ['product', 'ops', 'devstack'].includes(from.area) &&
      CLI.has(to.area) &&
      `src/ must not import ${to.area}/`,
  },
  {
    name: 'commands-ui-import-each-other',
    check: (from, to) =>
      CLI.has(from.area) &&
      CLI.has(to.area) &&
      from.area !== to.area &&
      `${from.area}/ must not import ${to.area}/`,
  },
  {
    name: 'cli-imports-driver',
    check: (from, to) =>
      CLI.has(from.area) &&
      to.pkg !== undefined &&
      DRIVERS.some((d) => to.pkg === d || to.pkg.startsWith(`${d}/`)) &&
      `${from.area}/ must not import the driver '${to.pkg}'; go through src/ops`,
  },
  {
    name: 'cli-imports-adapter',
    check: (from, to) =>
      CLI.has(from.area) &&
      to.path?.startsWith('src/adapters/') &&
      `${from.area}/ must not use an adapter directly; go through src/ops`,
  },
  {
    name: 'ui-imports-devstack',
    check: (from, to) =>
      from.area === 'ui' && to.area === 'devstack' && 'the console must not use the dev stack',
  },
  {
    name: 'shipped-imports-test',
    check: (from, to) =>
      SHIPPED.has(from.area) &&
      to.area === 'test' &&
      'shipped code must not import test/ or fixtures/ (it would be compiled into dist/)',
  },
];

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'node_modules' && name !== '__snapshots__') walk(p, out);
    } else if (/\.(ts|tsx|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const toPosix = (p) => p.split(sep).join('/');

/** The file a relative specifier names: `./x.js` is `x.ts` or `x.tsx` on disk. */
function resolveRelative(fromFile, spec) {
  const base = resolve(dirname(fromFile), spec);
  const stem = base.replace(/\.(js|jsx|mjs)$/, '');
  const candidates = [base, `${stem}.ts`, `${stem}.tsx`, `${stem}.mts`, join(base, 'index.ts')];
  const found = candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? base;
  return toPosix(relative(root, found));
}

const lineOf = (text, pos) => text.slice(0, pos).split('\n').length;

const files = SCANNED.flatMap((d) => (existsSync(join(root, d)) ? walk(join(root, d), []) : []));
const violations = [];
const graph = new Map();

for (const file of files) {
  const rel = toPosix(relative(root, file));
  const from = { path: rel, area: areaOf(rel) };
  const text = readFileSync(file, 'utf8');
  const deps = [];
  // TypeScript's own scanner: finds import/export ... from, side-effect imports, import type,
  // import() and typeof import(), and skips comments and strings.
  for (const { fileName: spec, pos } of ts.preProcessFile(text, true, true).importedFiles) {
    let to;
    if (spec.startsWith('.')) {
      const path = resolveRelative(file, spec);
      to = { path, area: areaOf(path) };
      deps.push(path);
    } else {
      to = { pkg: spec };
    }
    for (const rule of RULES) {
      const why = rule.check(from, to);
      if (why) violations.push(`[${rule.name}] ${rel}:${lineOf(text, pos)}: ${why} ('${spec}')`);
    }
  }
  graph.set(rel, deps);
}

// Cycles: a depth-first search; a dependency still on the stack closes a cycle. Each cycle is
// reported once, starting from its smallest path.
const state = new Map();
const stack = [];
const cycles = new Set();
const visit = (n) => {
  state.set(n, 'open');
  stack.push(n);
  for (const d of graph.get(n) ?? []) {
    if (!graph.has(d)) continue;
    if (state.get(d) === 'open') {
      const loop = stack.slice(stack.indexOf(d));
      const start = loop.indexOf([...loop].sort()[0]);
      const turned = [...loop.slice(start), ...loop.slice(0, start)];
      cycles.add(`[import-cycle] ${[...turned, turned[0]].join(' -> ')}`);
    } else if (!state.has(d)) visit(d);
  }
  stack.pop();
  state.set(n, 'done');
};
for (const n of graph.keys()) if (!state.has(n)) visit(n);
violations.push(...cycles);

if (violations.length > 0) {
  console.error(`dependency check: ${violations.length} violation(s) in ${root}\n${violations.join('\n')}`);
  process.exit(1);
}
console.log(`dependency check: ${files.length} files, no forbidden imports, no cycles`);
