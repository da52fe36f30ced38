import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';

/** A header value in a sample: text, a number, a binary value (base64, with the number it holds), or a list (x-death). */
export type SampleHeaderValue =
  string | number | { base64: string; int32?: number; int64?: string } | unknown[];

/** One file of fixtures/dead-letters/ (fixtures/README.md): a dead letter as its broker holds it. */
export interface DeadLetterSample {
  format: string;
  description: string;
  broker: 'kafka' | 'rabbitmq';
  dlq: string;
  kafka?: { partition: number; offset: number; timestamp: string; key: string | null };
  rabbitmq?: { exchange: string; routingKey: string; properties: Record<string, unknown> };
  headers: Record<string, SampleHeaderValue>;
  value: { encoding: 'json' | 'registry-json' | 'text'; schemaId?: number; json?: unknown; text?: string };
  context: { origin: Record<string, string | number> };
}

const dir = join(projectRoot(), 'fixtures', 'dead-letters');

/** The sample `fixtures/dead-letters/<name>.json`. */
export const deadLetterSample = (name: string): DeadLetterSample =>
  JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as DeadLetterSample;

/** Every sample, with its file name. */
export const deadLetterSamples = (): { file: string; letter: DeadLetterSample }[] =>
  readdirSync(dir).map((file) => ({ file, letter: deadLetterSample(file.replace(/\.json$/, '')) }));
