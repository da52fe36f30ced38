import { appendFileSync } from 'node:fs';
import { startPrivateKafka, type PrivateKafka } from './private-kafka.js';

/**
 * A one-broker private cluster with extra server properties (read-only broker settings such as
 * offsets.retention.minutes): started, stopped, given the properties and started again.
 */
export async function startPrivateKafkaWith(
  basePort: number,
  serverProperties: Record<string, string>,
): Promise<PrivateKafka> {
  const k = await startPrivateKafka(1, basePort);
  try {
    const lines = Object.entries(serverProperties).map(([key, v]) => `${key}=${v}\n`);
    k.kill(1, 'SIGTERM');
    for (const n of k.nodes) appendFileSync(n.configFile, lines.join(''));
    await k.start(1);
    await k.waitHealthy();
    return k;
  } catch (e) {
    await k.stop();
    throw e;
  }
}
