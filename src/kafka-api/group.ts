/**
 * One consumer group's membership, as Kafka's classic `GroupMetadata` keeps it: the state, the
 * generation, the members with their protocols, the leader, the static members by instance id, the
 * members that have a member id but have not joined yet (KIP-394) and those a SyncGroup is still due
 * from. Pure state: the coordinator (group-coordinator.ts) owns the timers and the answers.
 *
 * Invariants, asserted where they are made:
 *   - state moves only along Kafka's transitions (VALID_PREVIOUS below);
 *   - the generation only grows, by one per completed join phase;
 *   - the leader is a member whenever there are members, and null when there are none;
 *   - every static member is in `staticMembers` under its instance id, mapped to its member id, and
 *     `staticMembers` holds nothing else;
 *   - a member id is either a member or pending, never both;
 *   - Stable and CompletingRebalance groups have members and a selected protocol.
 */
import { GroupInvariantError } from '../errors.js';
import type { JoinGroupProtocol, JoinGroupResponse, SyncGroupResponse } from './group-messages.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

const VALID_PREVIOUS: Record<GroupState, readonly GroupState[]> = {
  Empty: ['PreparingRebalance'],
  PreparingRebalance: ['Stable', 'CompletingRebalance', 'Empty'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Stable', 'PreparingRebalance', 'CompletingRebalance', 'Empty', 'Dead'],
};

export interface Member {
  readonly groupId: string;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: JoinGroupProtocol[];
  /** What the leader assigned it in the current generation; empty until then. */
  assignment: Buffer;
  /** Set while its JoinGroup waits for the join phase to complete. */
  joinWaiter: ((response: JoinGroupResponse) => void) | null;
  /** Set while its SyncGroup waits for the leader's. */
  syncWaiter: ((response: SyncGroupResponse) => void) | null;
  /** When its session ends unless it is heard from (the coordinator's clock). */
  heartbeatDeadline: number;
  heartbeatTimer: NodeJS.Timeout | null;
}

export class Group {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  /** In join order: the first is the leader when a leader must be chosen. */
  readonly members = new Map<string, Member>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, each with the timer that forgets it. */
  readonly pendingMembers = new Map<string, NodeJS.Timeout>();
  readonly staticMembers = new Map<string, string>();
  /** Members the current generation still awaits a SyncGroup from. */
  readonly pendingSync = new Set<string>();
  /** The join phase's timer (PreparingRebalance) or the pending-sync timer (after it). */
  phaseTimer: NodeJS.Timeout | null = null;
  /** The join phase began in Empty: it waits the initial delay and does not end early. */
  initialJoin = false;
  /** A member was added during the initial delay, which then runs once more. */
  newMemberAdded = false;

  constructor(readonly groupId: string) {}

  transitionTo(next: GroupState): void {
    assert(VALID_PREVIOUS[next].includes(this.state), `group ${this.groupId}: no transition from ${this.state} to ${next}`);
    this.state = next;
    if (next === 'Stable' || next === 'CompletingRebalance') {
      assert(this.members.size > 0 && this.protocolName !== null, `group ${this.groupId} is ${next} without members or a protocol`);
    }
  }

  add(member: Member): void {
    assert(!this.members.has(member.memberId) && !this.pendingMembers.has(member.memberId), `member ${member.memberId} added twice`);
    if (this.members.size === 0) this.protocolType = member.protocolType;
    this.members.set(member.memberId, member);
    if (member.groupInstanceId !== null) {
      assert(!this.staticMembers.has(member.groupInstanceId), `instance ${member.groupInstanceId} has a member already`);
      this.staticMembers.set(member.groupInstanceId, member.memberId);
    }
    this.leaderId ??= member.memberId;
  }

  /** Removes a member; a leader that leaves hands over to the next member in join order. */
  remove(memberId: string): Member | undefined {
    const member = this.members.get(memberId);
    if (!member) return undefined;
    this.members.delete(memberId);
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === memberId) this.staticMembers.delete(member.groupInstanceId);
    this.pendingSync.delete(memberId);
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value ?? null;
    assert(this.leaderId === null ? this.members.size === 0 : this.members.has(this.leaderId), `group ${this.groupId}: leader ${this.leaderId} is not a member`);
    return member;
  }

  /** A static member's restart: the new member id takes the old one's place, assignment and leadership. */
  replaceStatic(oldMemberId: string, replacement: Member): Member {
    const old = this.members.get(oldMemberId);
    assert(old !== undefined && old.groupInstanceId === replacement.groupInstanceId && replacement.groupInstanceId !== null, `no static member ${oldMemberId} to replace`);
    const wasLeader = this.leaderId === oldMemberId;
    const pendingSync = this.pendingSync.has(oldMemberId);
    this.remove(oldMemberId);
    replacement.assignment = old.assignment;
    this.add(replacement);
    if (wasLeader) this.leaderId = replacement.memberId;
    if (pendingSync) this.pendingSync.add(replacement.memberId);
    return old;
  }

  /** Kafka's `isStaticMemberFenced`: the instance id belongs to another member id. */
  isStaticMemberFenced(groupInstanceId: string | null, memberId: string): boolean {
    if (groupInstanceId === null) return false;
    const current = this.staticMembers.get(groupInstanceId);
    return current !== undefined && current !== memberId;
  }

  /** Every member's JoinGroup is in, and no member id handed out is still to join. */
  allMembersJoined(): boolean {
    if (this.pendingMembers.size > 0) return false;
    for (const m of this.members.values()) if (m.joinWaiter === null) return false;
    return true;
  }

  /** The longest rebalance timeout of the members: how long a join phase may wait. */
  rebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  /**
   * Whether a member with `protocolType` and `protocols` may join: into a group of no other members
   * any non-empty protocol set will do; otherwise the type must be the group's and one protocol must be
   * supported by every other member. (Kafka counts the joining member's own old protocols too; leaving
   * them out lets a sole member change its protocols.)
   */
  supportsProtocols(protocolType: string, protocols: JoinGroupProtocol[], joiningMemberId: string | null): boolean {
    const others = [...this.members.values()].filter((m) => m.memberId !== joiningMemberId);
    if (others.length === 0) return protocolType.length > 0 && protocols.length > 0;
    return this.protocolType === protocolType && protocols.some((p) => others.every((m) => m.protocols.some((q) => q.name === p.name)));
  }

  /**
   * Kafka's `selectProtocol`: of the protocols every member supports, each member votes for the first it
   * lists, and the most votes win (a tie goes to the one the leader lists first).
   */
  selectProtocol(): string {
    const members = [...this.members.values()];
    const leader = this.leaderId === null ? undefined : this.members.get(this.leaderId);
    assert(leader !== undefined, `group ${this.groupId} selects a protocol without a leader`);
    const candidates = leader.protocols.map((p) => p.name).filter((name) => members.every((m) => m.protocols.some((q) => q.name === name)));
    assert(candidates.length > 0, `group ${this.groupId}: no protocol every member supports`);
    const votes = new Map<string, number>(candidates.map((c) => [c, 0]));
    for (const m of members) {
      const vote = m.protocols.find((p) => votes.has(p.name))?.name;
      if (vote !== undefined) votes.set(vote, (votes.get(vote) ?? 0) + 1);
    }
    let best = candidates[0] as string;
    for (const c of candidates) if ((votes.get(c) ?? 0) > (votes.get(best) ?? 0)) best = c;
    return best;
  }

  /** Begins the next generation after a join phase: CompletingRebalance with members, else Empty. */
  initNextGeneration(): GroupState {
    const before = this.generationId;
    this.generationId += 1;
    this.pendingSync.clear();
    if (this.members.size > 0) {
      this.protocolName = this.selectProtocol();
      this.transitionTo('CompletingRebalance');
    } else {
      this.protocolName = null;
      this.protocolType = null;
      this.transitionTo('Empty');
    }
    assert(this.generationId === before + 1, 'the generation grows by one per join phase');
    return this.state;
  }
}

/** A member's metadata for the protocol, or empty when it does not list it. */
export function metadataFor(member: Member, protocolName: string | null): Buffer {
  return member.protocols.find((p) => p.name === protocolName)?.metadata ?? EMPTY;
}

/** Whether a rejoin carries exactly the protocols and metadata the member joined with. */
export function sameProtocols(a: readonly JoinGroupProtocol[], b: readonly JoinGroupProtocol[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i]?.name && p.metadata.equals(b[i]?.metadata ?? EMPTY));
}

export const EMPTY = Buffer.alloc(0);

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new GroupInvariantError(message);
}
