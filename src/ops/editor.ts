import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { editorCommand } from '../config.js';

/** What the editor left: the file's text when it exited 0, null when it failed or was killed. */
export interface EditorResult {
  text: string | null;
  /** The command that ran, and how it ended (exit code or signal), for the error an operator sees. */
  editor: string;
  exit: number | string;
}

/**
 * The one editor launcher (`dlq redrive --edit` and the console's `e`): writes `text` to a
 * temporary `fileName` (its extension picks the editor's syntax mode), hands the terminal to the
 * editor chosen as git does ($VISUAL, $EDITOR, then vi), reads the file back and removes it.
 * The editor string runs through the shell, so `EDITOR="code --wait"` works.
 */
export function launchEditor(text: string, fileName: string): EditorResult {
  const editor = editorCommand();
  const dir = mkdtempSync(join(tmpdir(), 'orderbus-edit-'));
  const file = join(dir, fileName);
  writeFileSync(file, text);
  // A raw-mode terminal (the console) would give the editor keys it cannot read.
  const stdin = process.stdin;
  const raw = stdin.isTTY && stdin.isRaw;
  try {
    if (raw) stdin.setRawMode(false);
    const r = spawnSync(editor, [file], { stdio: 'inherit', shell: true });
    const exit = r.status ?? r.signal ?? '?';
    return { text: r.status === 0 ? readFileSync(file, 'utf8') : null, editor, exit };
  } finally {
    if (raw) stdin.setRawMode(true);
    rmSync(dir, { recursive: true, force: true });
  }
}
