// Dependency direction (shared/STYLE.md): commands/ and ui/ use src/ops (and the small shared
// modules), never each other and never a driver; src/ never imports commands/ or ui/; and no
// import cycles anywhere.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const DRIVERS = ['kafkajs', 'amqplib', 'pg', '@kafkajs/confluent-schema-registry'];
const files = [];
const walk = (d) => {
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (/\.(ts|tsx)$/.test(f) && !f.endsWith('.d.ts')) files.push(p);
  }
};
for (const d of ['src', 'commands', 'ui', 'bin']) {
  try {
    walk(join(root, d));
  } catch {
    /* folder not there yet */
  }
}
const problems = [];
const graph = new Map();
const importRe =
  /(?:^|\n)\s*(?:import|export)[^'"`]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
for (const file of files) {
  const rel = relative(root, file);
  const top = rel.split('/')[0];
  const src = readFileSync(file, 'utf8');
  const deps = [];
  for (const m of src.matchAll(importRe)) {
    const spec = m[1] ?? m[2];
    if (!spec) continue;
    // Type-only imports vanish at run time: they make no cycle.
    if (/^\s*(import|export)\s+type\s/.test(m[0])) continue;
    if (spec.startsWith('.')) {
      const target = relative(root, resolve(dirname(file), spec)).replace(/\.js$/, '');
      const targetTop = target.split('/')[0];
      deps.push(target);
      if ((top === 'commands' && targetTop === 'ui') || (top === 'ui' && targetTop === 'commands')) {
        problems.push(`${rel}: ${top}/ must not import ${targetTop}/ (${spec})`);
      }
      if (top === 'src' && (targetTop === 'commands' || targetTop === 'ui')) {
        problems.push(`${rel}: src/ must not import ${targetTop}/ (${spec})`);
      }
      if ((top === 'commands' || top === 'ui') && targetTop === 'src' && /^src\/adapters\//.test(target)) {
        problems.push(`${rel}: ${top}/ must not use a driver adapter directly (${spec}); go through src/ops`);
      }
    } else if ((top === 'commands' || top === 'ui') && DRIVERS.includes(spec)) {
      problems.push(`${rel}: ${top}/ must not import the driver '${spec}'; go through src/ops`);
    }
  }
  graph.set(rel.replace(/\.(ts|tsx)$/, ''), deps);
}
// Cycle detection over static imports.
const state = new Map();
const stack = [];
const visit = (n) => {
  state.set(n, 1);
  stack.push(n);
  for (const d of graph.get(n) ?? []) {
    if (!graph.has(d)) continue;
    if (state.get(d) === 1)
      problems.push(`import cycle: ${[...stack.slice(stack.indexOf(d)), d].join(' -> ')}`);
    else if (!state.has(d)) visit(d);
  }
  stack.pop();
  state.set(n, 2);
};
for (const n of graph.keys()) if (!state.has(n)) visit(n);
if (problems.length > 0) {
  console.error(`dependency check: ${problems.length} problem(s)\n${[...new Set(problems)].join('\n')}`);
  process.exit(1);
}
console.log(`dependency check: ${files.length} files, no forbidden imports, no cycles`);
