/**
 * The group coordinator of the local Kafka API: Kafka's classic consumer-group protocol (JoinGroup,
 * SyncGroup, Heartbeat, LeaveGroup) over in-memory groups, and the offset and admin APIs over the log's
 * cursors (group-offsets.ts, group-admin.ts). It follows Kafka's `GroupCoordinator` (core, Scala) and
 * answers with Kafka's error codes, so stock clients behave as against a broker.
 *
 * States × messages (S = Stable, CR = CompletingRebalance, PR = PreparingRebalance, E = Empty):
 *
 *   JoinGroup, new (memberId '')    v4+ dynamic: MEMBER_ID_REQUIRED with an id, pending until it rejoins
 *                                   (KIP-394); v0-3, or a new static member: added, E/S/CR → PR.
 *                                   Static instance known: replaces the old member id (which is then
 *                                   FENCED_INSTANCE_ID); in S with unchanged protocols and metadata it
 *                                   answers at once with the current generation (no rebalance); in CR → PR;
 *                                   in PR it waits like any member.
 *   JoinGroup, known member         PR: waits. CR: same protocols → the current generation's answer again,
 *                                   else → PR. S: the leader, or changed protocols → PR; else the current
 *                                   generation's answer. A pending id: added, → PR.
 *   join phase ends                 when every member has rejoined and no pending id is left, or after the
 *                                   longest rebalance timeout (the initial delay first, from E). Dynamic
 *                                   members that did not rejoin are removed, static ones kept; next
 *                                   generation: CR (the leader gets every member's metadata), or E.
 *   SyncGroup                       PR: REBALANCE_IN_PROGRESS. CR: waits; the leader's assignments answer
 *                                   every waiting member, → S. S: the member's assignment. A member no
 *                                   SyncGroup came from within the rebalance timeout is removed, → PR.
 *   Heartbeat                       S, CR: keeps the session. PR: keeps it, REBALANCE_IN_PROGRESS.
 *   LeaveGroup, session expiry      the member is removed: S/CR → PR; in PR the join phase may now end.
 *
 * Checked first, in Kafka's order: the group id (INVALID_GROUP_ID for '' and for `upstream`, the
 * forwarder's cursor group), a fenced static instance, an unknown member, the generation.
 *
 * Group state is memory only, as Kafka keeps it in memory and in its offsets topic: after a restart
 * every consumer rejoins (UNKNOWN_MEMBER_ID), and only committed offsets survive (the log's cursors).
 * A group with no members is forgotten; its generations start again from 1 when one joins.
 *
 * Concurrency: every method runs on the event loop and changes state synchronously; a JoinGroup or
 * SyncGroup that has to wait resolves later, from another request or a timer. Every timer is unref'd.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ErrorCode } from './error-codes.js';
import { assert, EMPTY, Group, metadataFor, sameProtocols, type Member } from './group.js';
import { GroupAdmin, type GroupSummary } from './group-admin.js';
import type * as M from './group-messages.js';
import { groupIdValid, OffsetHandlers, type CoordinatorLogger } from './group-offsets.js';
import type { OffsetStore, TopicCatalog } from './offsets.js';
export type { CoordinatorLogger } from './group-offsets.js';
export type { GroupPartitionPosition, GroupSummary } from './group-admin.js';

export interface GroupCoordinatorOptions {
  offsets: OffsetStore;
  topics: TopicCatalog;
  /** Milliseconds on a monotonic clock. */
  now?: () => number;
  logger?: CoordinatorLogger;
  /** Lower than Kafka's 6000 so a test can kill a consumer and see the takeover quickly. */
  minSessionTimeoutMs?: number;
  maxSessionTimeoutMs?: number;
  /** Kafka's group.initial.rebalance.delay.ms. */
  initialRebalanceDelayMs?: number;
  /** Members and pending member ids per group (Kafka's group.max.size). */
  groupMembersMax?: number;
}

export const COORDINATOR_DEFAULTS = {
  minSessionTimeoutMs: 1000,
  maxSessionTimeoutMs: 300_000,
  initialRebalanceDelayMs: 0,
  groupMembersMax: 1000,
} as const;

export interface ClientInfo {
  clientId: string;
  clientHost: string;
}

const SILENT: CoordinatorLogger = { info: () => undefined, warn: () => undefined, debug: () => undefined };

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  private readonly now: () => number;
  private readonly logger: CoordinatorLogger;
  private readonly limits: { [K in keyof typeof COORDINATOR_DEFAULTS]: number };
  private readonly offsetHandlers: OffsetHandlers;
  private readonly admin: GroupAdmin;
  private closed = false;

  constructor(opts: GroupCoordinatorOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.logger = opts.logger ?? SILENT;
    this.limits = {
      minSessionTimeoutMs: opts.minSessionTimeoutMs ?? COORDINATOR_DEFAULTS.minSessionTimeoutMs,
      maxSessionTimeoutMs: opts.maxSessionTimeoutMs ?? COORDINATOR_DEFAULTS.maxSessionTimeoutMs,
      initialRebalanceDelayMs: opts.initialRebalanceDelayMs ?? COORDINATOR_DEFAULTS.initialRebalanceDelayMs,
      groupMembersMax: opts.groupMembersMax ?? COORDINATOR_DEFAULTS.groupMembersMax,
    };
    const l = this.limits;
    assert(l.minSessionTimeoutMs > 0 && l.minSessionTimeoutMs <= l.maxSessionTimeoutMs, `session timeouts ${l.minSessionTimeoutMs}..${l.maxSessionTimeoutMs} are not a range`);
    assert(l.initialRebalanceDelayMs >= 0 && l.groupMembersMax > 0, 'the initial rebalance delay and the member limit are not negative');
    const shared = { offsets: opts.offsets, topics: opts.topics, logger: this.logger, groups: this.groups as ReadonlyMap<string, Group>, isClosed: () => this.closed };
    this.offsetHandlers = new OffsetHandlers({ ...shared, touch: (member) => this.touch(member) });
    this.admin = new GroupAdmin({ ...shared, metadata: this.offsetHandlers.metadata });
  }

  // ---- JoinGroup -----------------------------------------------------------------------------

  joinGroup(body: M.JoinGroupRequest, version: number, client: ClientInfo): Promise<M.JoinGroupResponse> {
    const fail = (code: number, memberId = body.memberId): Promise<M.JoinGroupResponse> => Promise.resolve(joinError(memberId, code, version));
    if (this.closed) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (!groupIdValid(body.groupId)) return fail(ErrorCode.INVALID_GROUP_ID);
    if (body.sessionTimeoutMs < this.limits.minSessionTimeoutMs || body.sessionTimeoutMs > this.limits.maxSessionTimeoutMs) return fail(ErrorCode.INVALID_SESSION_TIMEOUT);
    const instanceId = version >= 5 ? (body.groupInstanceId ?? null) : null;
    // v0 has no rebalance timeout: Kafka uses the session timeout.
    const rebalanceTimeoutMs = version >= 1 && (body.rebalanceTimeoutMs ?? -1) > 0 ? (body.rebalanceTimeoutMs as number) : body.sessionTimeoutMs;
    const join: JoinParams = { body, version, client, instanceId, rebalanceTimeoutMs };
    let group = this.groups.get(body.groupId);
    if (body.memberId === '') {
      if (!group) this.groups.set(body.groupId, (group = new Group(body.groupId)));
      return this.joinNewMember(group, join);
    }
    if (!group) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    return this.joinKnownMember(group, join);
  }

  private joinNewMember(group: Group, join: JoinParams): Promise<M.JoinGroupResponse> {
    const { body, version, client, instanceId } = join;
    const fail = (code: number): Promise<M.JoinGroupResponse> => Promise.resolve(joinError('', code, version));
    if (!group.supportsProtocols(body.protocolType, body.protocols, null)) return this.failAndForget(group, fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    const oldStatic = instanceId === null ? undefined : group.staticMembers.get(instanceId);
    if (oldStatic === undefined && group.members.size + group.pendingMembers.size >= this.limits.groupMembersMax) {
      return this.failAndForget(group, fail(ErrorCode.GROUP_MAX_SIZE_REACHED));
    }
    const memberId = `${instanceId ?? client.clientId}-${randomUUID()}`;
    if (oldStatic !== undefined) return this.replaceStaticMember(group, oldStatic, memberId, join);
    if (instanceId === null && version >= 4) {
      // KIP-394: the member id is handed out first and the member joins only when it comes back with it.
      const timer = unref(setTimeout(() => this.expirePending(group, memberId), body.sessionTimeoutMs));
      group.pendingMembers.set(memberId, timer);
      return Promise.resolve(joinError(memberId, ErrorCode.MEMBER_ID_REQUIRED, version));
    }
    return this.addMemberAndRebalance(group, memberId, join);
  }

  private joinKnownMember(group: Group, join: JoinParams): Promise<M.JoinGroupResponse> {
    const { body, version, instanceId } = join;
    const memberId = body.memberId;
    const fail = (code: number): Promise<M.JoinGroupResponse> => Promise.resolve(joinError(memberId, code, version));
    if (!group.supportsProtocols(body.protocolType, body.protocols, memberId)) return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    if (group.pendingMembers.has(memberId)) {
      // A pending id is never a static member's (static members skip KIP-394).
      if (instanceId !== null) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
      clearTimeout(group.pendingMembers.get(memberId));
      group.pendingMembers.delete(memberId);
      return this.addMemberAndRebalance(group, memberId, join);
    }
    if (group.isStaticMemberFenced(instanceId, memberId)) return fail(ErrorCode.FENCED_INSTANCE_ID);
    const member = group.members.get(memberId);
    if (!member || (instanceId !== null && !group.staticMembers.has(instanceId))) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    switch (group.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(group, member, join);
      case 'CompletingRebalance':
        // It may have missed the answer to its first JoinGroup: the same one again.
        if (sameProtocols(member.protocols, body.protocols)) {
          this.touch(member);
          return Promise.resolve(joinAnswer(group, member, group.leaderId === memberId));
        }
        return this.updateMemberAndRebalance(group, member, join);
      case 'Stable':
        // The leader's JoinGroup rebalances even unchanged: that is how it reacts to new partitions.
        if (group.leaderId === memberId || !sameProtocols(member.protocols, body.protocols)) return this.updateMemberAndRebalance(group, member, join);
        this.touch(member);
        return Promise.resolve(joinAnswer(group, member, false));
      case 'Empty':
      case 'Dead':
        return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  private addMemberAndRebalance(group: Group, memberId: string, join: JoinParams): Promise<M.JoinGroupResponse> {
    const { body, client, instanceId, rebalanceTimeoutMs } = join;
    const member: Member = {
      groupId: group.groupId,
      memberId,
      groupInstanceId: instanceId,
      clientId: client.clientId,
      clientHost: client.clientHost,
      sessionTimeoutMs: body.sessionTimeoutMs,
      rebalanceTimeoutMs,
      protocolType: body.protocolType,
      protocols: body.protocols,
      assignment: EMPTY,
      joinWaiter: null,
      syncWaiter: null,
      heartbeatDeadline: 0,
      heartbeatTimer: null,
    };
    group.add(member);
    if (group.state === 'PreparingRebalance' && group.initialJoin) group.newMemberAdded = true;
    this.touch(member);
    const answer = this.awaitJoin(member, join.version);
    this.logger.info({ group: group.groupId, member: memberId, instance: instanceId, client: client.clientId }, 'member joins the group');
    this.maybePrepareRebalance(group, `member ${memberId} joined`);
    this.maybeCompleteJoin(group);
    return answer;
  }

  private updateMemberAndRebalance(group: Group, member: Member, join: JoinParams): Promise<M.JoinGroupResponse> {
    member.protocols = join.body.protocols;
    member.protocolType = join.body.protocolType;
    member.sessionTimeoutMs = join.body.sessionTimeoutMs;
    member.rebalanceTimeoutMs = join.rebalanceTimeoutMs;
    if (group.members.size === 1) group.protocolType = member.protocolType;
    this.touch(member);
    const answer = this.awaitJoin(member, join.version);
    this.maybePrepareRebalance(group, `member ${member.memberId} rejoined`);
    this.maybeCompleteJoin(group);
    return answer;
  }

  /** KIP-345: a static member restarted with a new member id takes the old one's place. */
  private replaceStaticMember(group: Group, oldMemberId: string, memberId: string, join: JoinParams): Promise<M.JoinGroupResponse> {
    const old = group.members.get(oldMemberId);
    assert(old !== undefined, `static member ${oldMemberId} is not a member`);
    const unchanged = sameProtocols(old.protocols, join.body.protocols);
    const previousLeader = group.leaderId;
    const replacement: Member = { ...old, memberId, clientId: join.client.clientId, clientHost: join.client.clientHost, joinWaiter: null, syncWaiter: null, heartbeatTimer: null };
    group.replaceStatic(oldMemberId, replacement);
    this.stopHeartbeat(old);
    old.joinWaiter?.(joinError(oldMemberId, ErrorCode.FENCED_INSTANCE_ID, join.version));
    old.syncWaiter?.(syncError(ErrorCode.FENCED_INSTANCE_ID));
    replacement.sessionTimeoutMs = join.body.sessionTimeoutMs;
    replacement.rebalanceTimeoutMs = join.rebalanceTimeoutMs;
    replacement.protocols = join.body.protocols;
    this.touch(replacement);
    this.logger.info({ group: group.groupId, instance: join.instanceId, member: memberId, replaces: oldMemberId }, 'static member rejoins with a new member id');
    if (group.state === 'Stable' && unchanged) {
      // No rebalance. A leader must not assign (a Stable group would not pass its assignment on): up to
      // v8 it is told the old leader id, so it does not see itself as leader; v9+ says skipAssignment.
      const isLeader = group.leaderId === memberId;
      const skip = isLeader && join.version >= 9;
      const answer = joinAnswer(group, replacement, skip);
      return Promise.resolve({ ...answer, leader: skip ? memberId : (previousLeader ?? ''), skipAssignment: skip });
    }
    const answer = this.awaitJoin(replacement, join.version);
    this.maybePrepareRebalance(group, `static member ${join.instanceId} rejoined${unchanged ? '' : ' with other protocols'}`);
    this.maybeCompleteJoin(group);
    return answer;
  }

  /** Sets the member's join waiter (answering one it replaces) and returns what it will be answered. */
  private awaitJoin(member: Member, version: number): Promise<M.JoinGroupResponse> {
    member.joinWaiter?.(joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS, version));
    return new Promise<M.JoinGroupResponse>((resolve) => {
      member.joinWaiter = (response) => {
        member.joinWaiter = null;
        // Before v7 the protocol name is not nullable.
        resolve(version < 7 && response.protocolName === null ? { ...response, protocolName: '' } : response);
      };
    });
  }

  // ---- the join phase ------------------------------------------------------------------------

  private maybePrepareRebalance(group: Group, reason: string): void {
    if (group.state === 'Stable' || group.state === 'CompletingRebalance' || group.state === 'Empty') this.prepareRebalance(group, reason);
  }

  private prepareRebalance(group: Group, reason: string): void {
    if (group.state === 'CompletingRebalance') {
      // Members waiting in SyncGroup must rejoin instead.
      for (const m of group.members.values()) {
        m.assignment = EMPTY;
        m.syncWaiter?.(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        m.syncWaiter = null;
      }
    }
    this.clearPhaseTimer(group);
    group.initialJoin = group.state === 'Empty';
    group.newMemberAdded = false;
    group.transitionTo('PreparingRebalance');
    this.logger.info({ group: group.groupId, generation: group.generationId, reason }, 'preparing to rebalance');
    if (group.initialJoin) {
      this.scheduleInitialJoin(group, this.limits.initialRebalanceDelayMs, Math.max(group.rebalanceTimeoutMs() - this.limits.initialRebalanceDelayMs, 0));
    } else {
      group.phaseTimer = unref(setTimeout(() => this.completeJoin(group), group.rebalanceTimeoutMs()));
      this.maybeCompleteJoin(group);
    }
  }

  /** Kafka's InitialDelayedJoin: from Empty, wait the delay, again while members keep arriving, then end. */
  private scheduleInitialJoin(group: Group, delayMs: number, remainingMs: number): void {
    group.phaseTimer = unref(
      setTimeout(() => {
        group.phaseTimer = null;
        if (group.newMemberAdded && remainingMs > 0) {
          group.newMemberAdded = false;
          const next = Math.min(this.limits.initialRebalanceDelayMs, remainingMs);
          this.scheduleInitialJoin(group, next, remainingMs - next);
        } else {
          this.completeJoin(group);
        }
      }, delayMs),
    );
  }

  private maybeCompleteJoin(group: Group): void {
    if (group.state === 'PreparingRebalance' && !group.initialJoin && group.allMembersJoined()) this.completeJoin(group);
  }

  private completeJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return;
    this.clearPhaseTimer(group);
    group.initialJoin = false;
    for (const m of [...group.members.values()]) {
      if (m.joinWaiter === null && m.groupInstanceId === null) {
        this.logger.info({ group: group.groupId, member: m.memberId }, 'member did not rejoin in time; removed');
        this.stopHeartbeat(m);
        m.syncWaiter?.(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
        group.remove(m.memberId);
      }
    }
    const leader = group.leaderId === null ? undefined : group.members.get(group.leaderId);
    if (leader && leader.joinWaiter === null) {
      const joined = [...group.members.values()].find((m) => m.joinWaiter !== null);
      if (!joined) {
        // Only static members that did not rejoin are left: wait another round for them (or their sessions).
        group.phaseTimer = unref(setTimeout(() => this.completeJoin(group), group.rebalanceTimeoutMs()));
        return;
      }
      group.leaderId = joined.memberId;
    }
    const next = group.initNextGeneration();
    this.logger.info({ group: group.groupId, generation: group.generationId, members: group.members.size, protocol: group.protocolName }, 'join phase complete');
    if (next === 'Empty') {
      this.forgetIfIdle(group);
      return;
    }
    for (const m of group.members.values()) {
      m.joinWaiter?.(joinAnswer(group, m, group.leaderId === m.memberId));
      this.touch(m);
      group.pendingSync.add(m.memberId);
    }
    const generation = group.generationId;
    group.phaseTimer = unref(setTimeout(() => this.expirePendingSync(group, generation), group.rebalanceTimeoutMs()));
  }

  /** Members that got the join answer but sent no SyncGroup within the rebalance timeout are gone. */
  private expirePendingSync(group: Group, generation: number): void {
    group.phaseTimer = null;
    if (group.generationId !== generation || (group.state !== 'CompletingRebalance' && group.state !== 'Stable') || group.pendingSync.size === 0) return;
    const late = [...group.pendingSync];
    for (const memberId of late) {
      const m = group.members.get(memberId);
      if (m) this.removeMember(group, m, 'no SyncGroup within the rebalance timeout', false);
    }
    this.prepareRebalance(group, `removed ${late.join(', ')}: no SyncGroup within the rebalance timeout`);
  }

  // ---- SyncGroup, Heartbeat, LeaveGroup ----------------------------------------------------------

  syncGroup(body: M.SyncGroupRequest, version: number): Promise<M.SyncGroupResponse> {
    const fail = (code: number): Promise<M.SyncGroupResponse> => Promise.resolve(syncError(code));
    if (this.closed) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (!groupIdValid(body.groupId)) return fail(ErrorCode.INVALID_GROUP_ID);
    const group = this.groups.get(body.groupId);
    if (!group) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    const instanceId = version >= 3 ? (body.groupInstanceId ?? null) : null;
    if (group.isStaticMemberFenced(instanceId, body.memberId)) return fail(ErrorCode.FENCED_INSTANCE_ID);
    const member = group.members.get(body.memberId);
    if (!member) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    if (body.generationId !== group.generationId) return fail(ErrorCode.ILLEGAL_GENERATION);
    const protocolType = body.protocolType ?? null;
    const protocolName = body.protocolName ?? null;
    if ((protocolType !== null && protocolType !== group.protocolType) || (protocolName !== null && protocolName !== group.protocolName)) return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    switch (group.state) {
      case 'Empty':
      case 'Dead':
        return fail(ErrorCode.UNKNOWN_MEMBER_ID);
      case 'PreparingRebalance':
        return fail(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'Stable':
        group.pendingSync.delete(member.memberId);
        this.touch(member);
        return Promise.resolve(syncAnswer(group, member));
      case 'CompletingRebalance': {
        member.syncWaiter?.(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        const answer = new Promise<M.SyncGroupResponse>((resolve) => (member.syncWaiter = resolve));
        group.pendingSync.delete(member.memberId);
        this.touch(member);
        if (group.leaderId === member.memberId) this.propagateAssignment(group, body.assignments);
        return answer;
      }
    }
  }

  /** The leader's assignments reach every member (those it left out get an empty one); → Stable. */
  private propagateAssignment(group: Group, assignments: M.SyncGroupRequest['assignments']): void {
    const byMember = new Map(assignments.map((a) => [a.memberId, a.assignment]));
    for (const m of group.members.values()) {
      m.assignment = byMember.get(m.memberId) ?? EMPTY;
      const waiter = m.syncWaiter;
      m.syncWaiter = null;
      waiter?.(syncAnswer(group, m));
      if (waiter) this.touch(m);
    }
    group.transitionTo('Stable');
    this.logger.info({ group: group.groupId, generation: group.generationId }, 'assignment propagated; group stable');
  }

  heartbeat(body: M.HeartbeatRequest, version: number): M.HeartbeatResponse {
    const answer = (errorCode: number): M.HeartbeatResponse => ({ throttleTimeMs: 0, errorCode });
    if (this.closed) return answer(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (!groupIdValid(body.groupId)) return answer(ErrorCode.INVALID_GROUP_ID);
    const group = this.groups.get(body.groupId);
    if (!group) return answer(ErrorCode.UNKNOWN_MEMBER_ID);
    if (group.isStaticMemberFenced(version >= 3 ? (body.groupInstanceId ?? null) : null, body.memberId)) return answer(ErrorCode.FENCED_INSTANCE_ID);
    const member = group.members.get(body.memberId);
    if (!member) return answer(ErrorCode.UNKNOWN_MEMBER_ID);
    if (body.generationId !== group.generationId) return answer(ErrorCode.ILLEGAL_GENERATION);
    switch (group.state) {
      case 'Empty':
      case 'Dead':
        return answer(ErrorCode.UNKNOWN_MEMBER_ID);
      case 'PreparingRebalance':
        this.touch(member);
        return answer(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'CompletingRebalance':
      case 'Stable':
        this.touch(member);
        return answer(ErrorCode.NONE);
    }
  }

  leaveGroup(body: M.LeaveGroupRequest, version: number): M.LeaveGroupResponse {
    const leaving: M.LeaveGroupMemberIdentity[] = version >= 3 ? (body.members ?? []) : [{ memberId: body.memberId ?? '', groupInstanceId: null }];
    const respond = (errorCode: number, members: M.LeaveGroupResponse['members']): M.LeaveGroupResponse => {
      // Up to v2 there is one member and no member list: its error is the answer's.
      const first = members.find((m) => m.errorCode !== ErrorCode.NONE)?.errorCode ?? ErrorCode.NONE;
      return { throttleTimeMs: 0, errorCode: version < 3 && errorCode === ErrorCode.NONE ? first : errorCode, members };
    };
    if (this.closed) return respond(ErrorCode.COORDINATOR_NOT_AVAILABLE, []);
    if (!groupIdValid(body.groupId)) return respond(ErrorCode.INVALID_GROUP_ID, []);
    const group = this.groups.get(body.groupId);
    const results = leaving.map((who) => ({ memberId: who.memberId, groupInstanceId: who.groupInstanceId, errorCode: group ? this.leaveOne(group, who) : ErrorCode.UNKNOWN_MEMBER_ID }));
    return respond(ErrorCode.NONE, results);
  }

  private leaveOne(group: Group, who: M.LeaveGroupMemberIdentity): number {
    if (who.memberId === '') {
      // An admin removing a static member by its instance id (AdminClient.removeMembersFromConsumerGroup).
      const current = who.groupInstanceId === null ? undefined : group.staticMembers.get(who.groupInstanceId);
      const member = current === undefined ? undefined : group.members.get(current);
      if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
      this.removeMember(group, member, 'left the group (by instance id)', true);
      return ErrorCode.NONE;
    }
    const pending = group.pendingMembers.get(who.memberId);
    if (pending !== undefined) {
      clearTimeout(pending);
      group.pendingMembers.delete(who.memberId);
      this.maybeCompleteJoin(group);
      this.forgetIfIdle(group);
      return ErrorCode.NONE;
    }
    if (group.isStaticMemberFenced(who.groupInstanceId, who.memberId)) return ErrorCode.FENCED_INSTANCE_ID;
    const member = group.members.get(who.memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.removeMember(group, member, 'left the group', true);
    return ErrorCode.NONE;
  }

  // ---- sessions ------------------------------------------------------------------------------

  /** The member was heard from: its session runs a full session timeout from now. */
  private touch(member: Member): void {
    member.heartbeatDeadline = this.now() + member.sessionTimeoutMs;
    if (member.heartbeatTimer === null) this.armHeartbeat(member, member.sessionTimeoutMs);
  }

  private armHeartbeat(member: Member, inMs: number): void {
    member.heartbeatTimer = unref(setTimeout(() => this.checkSession(member), Math.max(1, inMs)));
  }

  private checkSession(member: Member): void {
    member.heartbeatTimer = null;
    const group = this.groups.get(member.groupId);
    if (!group || group.members.get(member.memberId) !== member) return;
    if (member.joinWaiter !== null || member.syncWaiter !== null) {
      // Waiting in JoinGroup or SyncGroup counts as alive (Kafka's hasSatisfiedHeartbeat); the join phase has its own bound.
      this.touch(member);
      return;
    }
    const leftMs = member.heartbeatDeadline - this.now();
    if (leftMs > 0) {
      this.armHeartbeat(member, leftMs);
      return;
    }
    this.removeMember(group, member, `session timeout (${member.sessionTimeoutMs} ms) expired`, true);
  }

  private expirePending(group: Group, memberId: string): void {
    if (!group.pendingMembers.delete(memberId)) return;
    this.logger.debug({ group: group.groupId, member: memberId }, 'pending member did not rejoin; forgotten');
    this.maybeCompleteJoin(group);
    this.forgetIfIdle(group);
  }

  /** Removes a member (answering what it waits on); with `rebalance`, the group moves on without it. */
  private removeMember(group: Group, member: Member, reason: string, rebalance: boolean): void {
    this.logger.info({ group: group.groupId, member: member.memberId, reason }, 'member removed');
    this.stopHeartbeat(member);
    member.joinWaiter?.(joinError('', ErrorCode.UNKNOWN_MEMBER_ID, 9));
    member.syncWaiter?.(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    member.syncWaiter = null;
    group.remove(member.memberId);
    if (!rebalance) return;
    if (group.state === 'Stable' || group.state === 'CompletingRebalance') this.prepareRebalance(group, reason);
    else this.maybeCompleteJoin(group);
  }

  private stopHeartbeat(member: Member): void {
    if (member.heartbeatTimer !== null) clearTimeout(member.heartbeatTimer);
    member.heartbeatTimer = null;
  }

  private clearPhaseTimer(group: Group): void {
    if (group.phaseTimer !== null) clearTimeout(group.phaseTimer);
    group.phaseTimer = null;
  }

  /** An Empty group with nobody pending holds nothing worth keeping (its offsets are in the store). */
  private forgetIfIdle(group: Group): void {
    if (group.state === 'Empty' && group.members.size === 0 && group.pendingMembers.size === 0 && this.groups.get(group.groupId) === group) {
      this.clearPhaseTimer(group);
      this.groups.delete(group.groupId);
    }
  }

  private failAndForget<T>(group: Group, answer: Promise<T>): Promise<T> {
    this.forgetIfIdle(group);
    return answer;
  }

  // ---- offsets and admin (group-offsets.ts, group-admin.ts) --------------------------------------

  offsetCommit(body: M.OffsetCommitRequest, version: number): Promise<M.OffsetCommitResponse> {
    return this.offsetHandlers.commit(body, version);
  }

  offsetFetch(body: M.OffsetFetchRequest, version: number): M.OffsetFetchResponse {
    return this.offsetHandlers.fetch(body, version);
  }

  describeGroups(body: M.DescribeGroupsRequest, version: number): Promise<M.DescribeGroupsResponse> {
    return Promise.resolve(this.admin.describe(body, version));
  }

  listGroups(body: M.ListGroupsRequest, version: number): Promise<M.ListGroupsResponse> {
    return Promise.resolve(this.admin.list(body, version));
  }

  deleteGroups(body: M.DeleteGroupsRequest, version: number): Promise<M.DeleteGroupsResponse> {
    return this.admin.delete(body, version);
  }

  /** Per group and committed partition, the records between its committed offset and the end. */
  groupLag(): Array<{ group: string; stream: string; partition: number; lagRecords: number }> {
    return this.admin.lag();
  }

  /** Every known group's state, member count and committed positions, for the status report. */
  groupSummaries(): GroupSummary[] {
    return this.admin.summaries();
  }

  /** Ends every waiting JoinGroup and SyncGroup with NOT_COORDINATOR (as Kafka does when it unloads a group), stops every timer. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const group of this.groups.values()) {
      this.clearPhaseTimer(group);
      for (const timer of group.pendingMembers.values()) clearTimeout(timer);
      group.pendingMembers.clear();
      for (const m of group.members.values()) {
        this.stopHeartbeat(m);
        m.joinWaiter?.(joinError(m.memberId, ErrorCode.NOT_COORDINATOR, 9));
        m.syncWaiter?.(syncError(ErrorCode.NOT_COORDINATOR));
        m.syncWaiter = null;
      }
      group.transitionTo('Dead');
    }
    this.groups.clear();
  }
}

interface JoinParams {
  body: M.JoinGroupRequest;
  version: number;
  client: ClientInfo;
  instanceId: string | null;
  rebalanceTimeoutMs: number;
}

/** The current generation's JoinGroup answer; the leader's lists every member's metadata. */
function joinAnswer(group: Group, member: Member, withMembers: boolean): M.JoinGroupResponse {
  assert(group.protocolName !== null, `group ${group.groupId} answers a join without a protocol`);
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    generationId: group.generationId,
    protocolType: group.protocolType,
    protocolName: group.protocolName,
    leader: group.leaderId ?? '',
    skipAssignment: false,
    memberId: member.memberId,
    members: withMembers ? [...group.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: metadataFor(m, group.protocolName) })) : [],
  };
}

function joinError(memberId: string, errorCode: number, version: number): M.JoinGroupResponse {
  return { throttleTimeMs: 0, errorCode, generationId: -1, protocolType: null, protocolName: version >= 7 ? null : '', leader: '', skipAssignment: false, memberId, members: [] };
}

function syncAnswer(group: Group, member: Member): M.SyncGroupResponse {
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment };
}

function syncError(errorCode: number): M.SyncGroupResponse {
  return { throttleTimeMs: 0, errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

function unref(timer: NodeJS.Timeout): NodeJS.Timeout {
  timer.unref();
  return timer;
}
