/**
 * This member left the group's generation (rebalance, session lost, coordinator moved): not the
 * batch's fault. Thrown on, kafkajs rejoins and the uncommitted batch goes to the partition's owner.
 */
export function lostMembership(e: unknown): boolean {
  const type = (e as { type?: unknown } | null)?.type;
  return (
    type === 'REBALANCE_IN_PROGRESS' ||
    type === 'UNKNOWN_MEMBER_ID' ||
    type === 'ILLEGAL_GENERATION' ||
    type === 'NOT_COORDINATOR_FOR_GROUP'
  );
}

/**
 * Runs `work` while heartbeating every `everyMs`: a handler that waits longer than the session
 * timeout on one call (a provider that answers only at its 10 s timeout, 32 such calls at a time)
 * would otherwise be dropped from the group mid-batch, and its batch handled a second time by the
 * next owner. A failed heartbeat is left to the next one the batch sends itself, which throws it.
 */
export async function heartbeatingWhile<T>(
  heartbeat: () => Promise<void>,
  everyMs: number,
  work: () => Promise<T>,
): Promise<T> {
  const timer = setInterval(() => void heartbeat().catch(() => undefined), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
