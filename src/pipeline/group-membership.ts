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
