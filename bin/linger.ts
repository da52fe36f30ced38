/**
 * How long a finished command may take to let go of what it opened before the process ends
 * anyway. Every command closes its clients, so Node normally exits by itself at once; a handle a
 * driver leaves open (a socket, a timer) must not keep a finished command alive: a script, a cron
 * job or a test waiting for it would hang.
 */
export const LINGER_MS = 3000;

/**
 * Ends the process with `code` as soon as nothing holds it, or LINGER_MS after the command
 * returned if something still does, naming what was still open on stderr when `verbose` (or
 * ORDERBUS_DEBUG_HANDLES is set). The timer is unref'd: it never delays an exit.
 */
export function exitWhenDone(code: number, verbose: boolean): void {
  process.exitCode = code;
  // Once nothing holds the event loop, Node still waits, in its own clean-up and with no way to
  // run JavaScript, for every request in flight to complete; one that never does (a write on an
  // unref'd socket whose peer went away) keeps the process spinning there for good (seen: a
  // chaos drill that printed its report and never ended). Exiting here, when the loop empties,
  // skips that wait; stdout and stderr are written synchronously, nothing is cut off.
  process.once('beforeExit', () => process.exit(code));
  setTimeout(() => {
    if (verbose || process.env.ORDERBUS_DEBUG_HANDLES)
      process.stderr.write(
        `orderbus: still open ${LINGER_MS} ms after the command ended: ${openHandles()}\n`,
      );
    process.exit(code);
  }, LINGER_MS).unref();
}

/** What keeps the event loop alive, as far as Node tells: sockets with their peers, timers, children. */
export function openHandles(): string {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  const described = handles.map(describe).filter((d) => d !== '');
  return described.length > 0 ? described.join('; ') : process.getActiveResourcesInfo().join(', ');
}

function describe(h: unknown): string {
  if (h === process.stdout || h === process.stderr || h === process.stdin) return '';
  const name = (h as { constructor?: { name?: string } }).constructor?.name ?? typeof h;
  const o = h as Record<string, unknown>;
  if (name === 'Socket') {
    const s = h as { localAddress?: string; localPort?: number; remoteAddress?: string; remotePort?: number };
    return `socket ${s.localAddress ?? ''}:${s.localPort ?? ''} → ${s.remoteAddress ?? ''}:${s.remotePort ?? ''}`;
  }
  if (name === 'Server') {
    const a = (h as { address(): unknown }).address();
    return `server ${JSON.stringify(a)}`;
  }
  if (name === 'ChildProcess') return `child pid ${String(o.pid)} (${String(o.spawnfile)})`;
  if (name === 'Timeout') {
    const fn = o._onTimeout as { name?: string } | undefined;
    return `timer ${String(o._idleTimeout)} ms ${fn?.name || 'anonymous'}${o._repeat ? ' (repeating)' : ''}`;
  }
  return name;
}
