import { EventEmitter } from 'node:events';
import React from 'react';
import { render } from 'ink';
import { ThemeProvider } from '../../ui/components/theme.js';

/**
 * Renders a console tree into fake terminal streams of a fixed size (default 80×24), with the
 * same providers the real console uses. Frames are plain strings; `press` types keys.
 */
class FakeStdout extends EventEmitter {
  frames: string[] = [];
  isTTY = true;
  constructor(
    public columns: number,
    public rows: number,
  ) {
    super();
  }
  write = (frame: string) => {
    this.frames.push(frame);
    return true;
  };
  resize(columns: number, rows: number) {
    this.columns = columns;
    this.rows = rows;
    this.emit('resize');
  }
}

class FakeStdin extends EventEmitter {
  isTTY = true;
  private data: string | null = null;
  write(data: string) {
    this.data = data;
    this.emit('readable');
    this.emit('data', data);
  }
  read = () => {
    const d = this.data;
    this.data = null;
    return d;
  };
  setEncoding() {}
  setRawMode() {}
  resume() {}
  pause() {}
  ref() {}
  unref() {}
}

export const KEYS = {
  enter: '\r',
  escape: '\u001b',
  up: '\u001b[A',
  down: '\u001b[B',
  tab: '\t',
  backspace: '\u007f',
} as const;

export function renderWithProviders(
  tree: React.ReactElement,
  { columns = 80, rows = 24, color = false } = {},
) {
  const stdout = new FakeStdout(columns, rows);
  const stdin = new FakeStdin();
  const instance = render(<ThemeProvider color={color}>{tree}</ThemeProvider>, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: new FakeStdout(columns, rows) as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  return {
    stdout,
    lastFrame: () => stdout.frames[stdout.frames.length - 1] ?? '',
    /** Types one key or string; each character is a separate keypress for printable text. */
    press: async (keys: string) => {
      const isSequence = Object.values(KEYS).includes(keys as (typeof KEYS)[keyof typeof KEYS]);
      for (const k of isSequence ? [keys] : [...keys]) {
        stdin.write(k);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    /** Writes the text as one chunk, as a terminal delivers keys typed faster than a frame. */
    burst: (text: string) => stdin.write(text),
    unmount: () => instance.unmount(),
    waitUntilExit: () => instance.waitUntilExit(),
  };
}
