import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { editorCommand } from '../../src/config.js';
import { launchEditor } from '../../src/ops/editor.js';

/** The one editor launcher of `dlq redrive --edit` and the console's `e`. */
const dir = mkdtempSync(join(tmpdir(), 'editor-test-'));
afterEach(() => {
  vi.unstubAllEnvs();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('editor launcher', () => {
  it('chooses the editor as git does: $VISUAL, then $EDITOR, then vi (empty counts as unset)', () => {
    vi.stubEnv('VISUAL', 'code --wait');
    vi.stubEnv('EDITOR', 'nano');
    expect(editorCommand()).toBe('code --wait');
    vi.stubEnv('VISUAL', '');
    expect(editorCommand()).toBe('nano');
    vi.stubEnv('EDITOR', '');
    expect(editorCommand()).toBe('vi');
  });

  it('returns what the editor saved and removes the temporary file', () => {
    const seen = join(dir, 'path');
    // A shell command, as EDITOR="code --wait" is: it notes the file it got and edits it.
    vi.stubEnv('VISUAL', `ed() { echo "$1" > ${seen}; sed -i 's#/v1/#/v2/#' "$1"; }; ed`);
    const r = launchEditor('{"url":"http://partner/v1/orders"}\n', 'payload.json');
    expect(r).toMatchObject({ text: '{"url":"http://partner/v2/orders"}\n', exit: 0 });
    const file = readFileSync(seen, 'utf8').trim();
    expect(file).toMatch(/payload\.json$/);
    expect(existsSync(file)).toBe(false);
  });

  it('reports an editor that fails (no text, its exit code)', () => {
    vi.stubEnv('VISUAL', 'false');
    expect(launchEditor('{}', 'payload.json')).toEqual({ text: null, editor: 'false', exit: 1 });
  });
});
