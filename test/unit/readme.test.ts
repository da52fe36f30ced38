import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configKeys } from '../../src/config.js';
import { projectRoot } from '../../src/paths.js';

const readme = readFileSync(join(projectRoot(), 'README.md'), 'utf8');

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
});
