import { join } from 'node:path';
import { OrderbusError, errorMessage } from '../../errors.js';
import { projectRoot } from '../../paths.js';
import { commandExists, execFileAsync } from './processes.js';

/** True when a Docker engine answers (the client alone is not enough). */
export async function composeAvailable(): Promise<boolean> {
  if (!(await commandExists('docker'))) return false;
  try {
    await execFileAsync('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

function composeFile(): string {
  return join(projectRoot(), 'docker-compose.yml');
}

export async function composeUp(log: (s: string) => void): Promise<void> {
  log(`docker compose -f ${composeFile()} up -d --wait`);
  try {
    await execFileAsync('docker', ['compose', '-f', composeFile(), 'up', '-d', '--wait'], {
      timeout: 10 * 60 * 1000,
    });
  } catch (e) {
    throw new OrderbusError('COMPOSE_FAILED', `docker compose up failed: ${errorMessage(e)}`, {
      hint: `docker compose -f ${composeFile()} logs`,
      cause: e,
    });
  }
}

export async function composeDown(purge: boolean, log: (s: string) => void): Promise<void> {
  const args = ['compose', '-f', composeFile(), 'down', ...(purge ? ['-v'] : [])];
  log(`docker ${args.join(' ')}`);
  await execFileAsync('docker', args, { timeout: 5 * 60 * 1000 });
}

/** Chaos drills against a compose stack: docker compose kill|stop|start|pause|unpause SERVICE. */
export async function composeService(
  action: 'kill' | 'stop' | 'start' | 'pause' | 'unpause',
  service: string,
): Promise<void> {
  await execFileAsync('docker', ['compose', '-f', composeFile(), action, service], { timeout: 120000 });
}
