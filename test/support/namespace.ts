import { randomUUID } from 'node:crypto';

/**
 * A per-test namespace: every topic, group, queue, subject and database schema a test creates
 * is named with it, so tests never see each other's data and can run in parallel.
 */
export function testNamespace(label = 't'): string {
  return `${label}-${process.pid}-${randomUUID().slice(0, 8)}`;
}
