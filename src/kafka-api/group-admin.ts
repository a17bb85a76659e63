/**
 * DescribeGroups, ListGroups and DeleteGroups (what `kafka-consumer-groups --list / --describe /
 * --delete` send), and the lag of every group's committed offsets for the metrics.
 *
 * A group is known when it has members (the coordinator's memory) or committed offsets (the store); a
 * group known only by its offsets is Empty, with protocol type ''. Unknown groups describe as Dead, as
 * Kafka's do up to DescribeGroups v5. Members' metadata and assignments are shown only while the group is
 * Stable (Kafka's GroupMetadata.summary). Only a group without members may be deleted; deleting it deletes
 * its committed offsets in one synced write.
 *
 * `summaries()` is the status report's view (src/ops/status.ts): the same groups ListGroups knows, with
 * member counts and per-partition committed offsets and lag; the lag's one definition is `positions()`.
 */
import type { TributaryError } from '../errors.js';
import { ErrorCode } from './error-codes.js';
import { assert, EMPTY, metadataFor, type Group, type GroupState } from './group.js';
import type * as M from './group-messages.js';
import { groupIdValid, type CommitMetadata, type GroupContext } from './group-offsets.js';

/** DescribeGroups' authorizedOperations when they were not asked for (or are not known). */
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;
/** Every group here is a classic group (ListGroups v5 GroupType). */
const GROUP_TYPE = 'classic';

export class GroupAdmin {
  constructor(private readonly ctx: GroupContext & { metadata: CommitMetadata }) {}

  describe(body: M.DescribeGroupsRequest, _version: number): M.DescribeGroupsResponse {
    return { throttleTimeMs: 0, groups: body.groups.map((id) => this.describeOne(id)) };
  }

  private describeOne(groupId: string): M.DescribedGroup {
    const described = (errorCode: number, groupState: string, protocolType = '', protocolData = '', members: M.DescribedGroupMember[] = []): M.DescribedGroup => ({
      errorCode,
      groupId,
      groupState,
      protocolType,
      protocolData,
      members,
      authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
    });
    if (this.ctx.isClosed()) return described(ErrorCode.COORDINATOR_NOT_AVAILABLE, '');
    if (!groupIdValid(groupId)) return described(ErrorCode.INVALID_GROUP_ID, '');
    const group = this.ctx.groups.get(groupId);
    if (!group) return described(ErrorCode.NONE, this.ctx.offsets.offsetsOf(groupId).length > 0 ? 'Empty' : 'Dead');
    const stable = group.state === 'Stable';
    const members = [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      memberMetadata: stable ? metadataFor(m, group.protocolName) : EMPTY,
      memberAssignment: stable ? m.assignment : EMPTY,
    }));
    return described(ErrorCode.NONE, group.state, group.protocolType ?? '', stable ? (group.protocolName ?? '') : '', members);
  }

  list(body: M.ListGroupsRequest, version: number): M.ListGroupsResponse {
    if (this.ctx.isClosed()) return { throttleTimeMs: 0, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, groups: [] };
    const states = new Set((version >= 4 ? (body.statesFilter ?? []) : []).map((s) => s.toLowerCase()));
    const types = new Set((version >= 5 ? (body.typesFilter ?? []) : []).map((t) => t.toLowerCase()));
    const known = new Map<string, { state: GroupState; protocolType: string }>();
    for (const id of this.ctx.offsets.groups()) known.set(id, { state: 'Empty', protocolType: '' });
    for (const [id, g] of this.ctx.groups) known.set(id, { state: g.state, protocolType: g.protocolType ?? '' });
    const groups = [...known]
      .filter(([, g]) => (states.size === 0 || states.has(g.state.toLowerCase())) && (types.size === 0 || types.has(GROUP_TYPE)))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([groupId, g]) => ({ groupId, protocolType: g.protocolType, groupState: g.state, groupType: GROUP_TYPE }));
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups };
  }

  async delete(body: M.DeleteGroupsRequest, _version: number): Promise<M.DeleteGroupsResponse> {
    const results: M.DeleteGroupsResponse['results'] = [];
    for (const groupId of body.groupsNames) results.push({ groupId, errorCode: await this.deleteOne(groupId) });
    return { throttleTimeMs: 0, results };
  }

  private async deleteOne(groupId: string): Promise<number> {
    if (this.ctx.isClosed()) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (!groupIdValid(groupId)) return ErrorCode.INVALID_GROUP_ID;
    const group: Group | undefined = this.ctx.groups.get(groupId);
    if (group && group.members.size > 0) return ErrorCode.NON_EMPTY_GROUP;
    if (!group && this.ctx.offsets.offsetsOf(groupId).length === 0) return ErrorCode.GROUP_ID_NOT_FOUND;
    try {
      await this.ctx.offsets.delete(groupId);
    } catch (err) {
      this.ctx.logger.warn({ group: groupId, err }, 'deleting a group\'s offsets failed');
      return (err as Partial<TributaryError>).retriable === true ? ErrorCode.COORDINATOR_NOT_AVAILABLE : ErrorCode.UNKNOWN_SERVER_ERROR;
    }
    this.ctx.metadata.forget(groupId);
    this.ctx.logger.info({ group: groupId }, 'group deleted');
    return ErrorCode.NONE;
  }

  lag(): Array<{ group: string; stream: string; partition: number; lagRecords: number }> {
    return this.ctx.offsets.groups().flatMap((group) => this.positions(group).map(({ stream, partition, lagRecords }) => ({ group, stream, partition, lagRecords })));
  }

  /**
   * Every known group (as ListGroups knows them) with its state, member count and committed positions,
   * by group id, then stream and partition. Read-only: it changes no group and no offset.
   */
  summaries(): GroupSummary[] {
    const known = new Map<string, { state: GroupState; members: number }>();
    for (const id of this.ctx.offsets.groups()) known.set(id, { state: 'Empty', members: 0 });
    for (const [id, g] of this.ctx.groups) known.set(id, { state: g.state, members: g.members.size });
    return [...known]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([group, g]) => {
        assert(groupIdValid(group), `group id ${JSON.stringify(group)} is no local group's`);
        assert(g.members > 0 || g.state === 'Empty' || g.state === 'PreparingRebalance', `group ${group} is ${g.state} without members`);
        return { group, state: g.state, members: g.members, partitions: this.positions(group) };
      });
  }

  /** The group's committed offsets on streams still served, with the records past each. */
  private positions(group: string): GroupPartitionPosition[] {
    const out: GroupPartitionPosition[] = [];
    for (const { stream, partition, offset } of this.ctx.offsets.offsetsOf(group)) {
      const partitions = this.ctx.topics.partitions(stream);
      // A stream no longer configured has no end to lag behind.
      if (partitions === null || partition >= partitions) continue;
      out.push({ stream, partition, committedOffset: offset, lagRecords: Math.max(0, this.ctx.topics.endOffset(stream, partition) - offset) });
    }
    return out.sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : a.partition - b.partition));
  }
}

/** One partition a group has committed an offset on: the next offset it will read, and the records past it. */
export interface GroupPartitionPosition {
  stream: string;
  partition: number;
  committedOffset: number;
  lagRecords: number;
}

/** What the status report shows of a local consumer group. */
export interface GroupSummary {
  group: string;
  state: GroupState;
  /** Members now (pending KIP-394 ids not counted). */
  members: number;
  /** Only partitions with a committed offset: a member that has committed nothing yet has no known lag. */
  partitions: GroupPartitionPosition[];
}
