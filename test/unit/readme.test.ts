import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configKeys } from '../../src/config.js';
import { projectRoot } from '../../src/paths.js';

const root = projectRoot();
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The README's Layout section. */
const layout = readme.slice(readme.indexOf('## Layout')).split(/\n## /)[0] ?? '';

/** Every folder below dir (relative to the repository), deepest last. */
const foldersIn = (dir: string): string[] =>
  readdirSync(join(root, dir), { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== '__snapshots__')
    .flatMap((e) => [join(dir, e.name), ...foldersIn(join(dir, e.name))]);

describe('README', () => {
  it('documents every configuration key and its environment variable', () => {
    for (const key of configKeys()) {
      expect(readme, `README lacks ${key.path}`).toContain(`\`${key.path}\``);
      if (key.env) expect(readme, `README lacks ${key.env}`).toContain(key.env);
    }
  });

  it('names one command for the main job and one for the tests, both backed by package.json scripts', () => {
    const pkg = JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
    expect(pkg.scripts.start).toBeDefined();
    expect(pkg.scripts.test).toBeDefined();
  });

  it('Layout names every top-level folder, every folder of src/, commands/ and ui/, and every test suite', () => {
    expect(layout).toContain('## Layout');
    for (const top of ['src', 'commands', 'ui', 'bin', 'fixtures', 'test', 'scripts'])
      expect(layout, `Layout lacks ${top}/`).toContain(`${top}/`);
    const folders = [...foldersIn('src'), ...foldersIn('commands'), ...foldersIn('ui')];
    const suites = readdirSync(join(root, 'test'), { withFileTypes: true }).filter((e) => e.isDirectory());
    for (const folder of folders) {
      const name = relative(root, join(root, folder)).split('/').at(-1) ?? folder;
      expect(layout, `Layout lacks ${folder}/`).toContain(`${name}/`);
    }
    for (const suite of suites)
      expect(layout, `Layout lacks test/${suite.name}/`).toContain(`test/${suite.name}/`);
  });

  it('Layout lists every rule scripts/check-deps.mjs enforces', () => {
    const script = readFileSync(join(root, 'scripts', 'check-deps.mjs'), 'utf8');
    const rules = [...script.matchAll(/name: '([\w-]+)'|\[(import-cycle)\]/g)].map((m) => m[1] ?? m[2]);
    expect(rules.length).toBeGreaterThan(5);
    for (const rule of rules) expect(layout, `Layout lacks the rule ${rule}`).toContain(`\`${rule}\``);
  });
});
