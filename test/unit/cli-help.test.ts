import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerCommands } from '../../commands/index.js';

/** Every command's help, as `orderbus CMD --help` prints it, ends with two or three examples. */
function allCommands(cmd: Command, path = ''): [string, Command][] {
  return cmd.commands.flatMap((c) => {
    const p = path ? `${path} ${c.name()}` : c.name();
    return [[p, c] as [string, Command], ...allCommands(c, p)];
  });
}

describe('command help', () => {
  const program = new Command('orderbus');
  registerCommands(program, { openConsole: async () => undefined });

  it.each(allCommands(program))('orderbus %s --help ends with examples', (_path, cmd) => {
    let out = '';
    cmd.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
    cmd.outputHelp();
    const tail = out.trimEnd().split('\n\nExamples:\n')[1] ?? '';
    const examples = tail.split('\n');
    expect(examples.length).toBeGreaterThanOrEqual(cmd.commands.length > 0 ? 1 : 2);
    expect(examples.length).toBeLessThanOrEqual(3);
    for (const e of examples) expect(e).toMatch(/^ {2}(\$ )?(orderbus |ORDERBUS_|source )/);
  });
});
