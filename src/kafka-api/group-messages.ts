/**
 * The decoded bodies of the group and offset APIs, as the codec hands them over and takes them back:
 * field names are the `name`s of Kafka's message definitions (kafka-clients 3.9.2,
 * `common/message/*.json`) with the first letter lower-cased; int64 is bigint, bytes are Buffers.
 * A request field that its version lacks is absent (optional here, with the version that has it). A
 * response carries every field of the highest version; the codec writes those its version has.
 *
 * Written by hand for the coordinator; a generated `messages.generated.ts` may replace them.
 */

export interface JoinGroupProtocol {
  name: string;
  metadata: Buffer;
}

/** JoinGroup v0-9. */
export interface JoinGroupRequest {
  groupId: string;
  sessionTimeoutMs: number;
  /** v1+. */
  rebalanceTimeoutMs?: number;
  memberId: string;
  /** v5+. */
  groupInstanceId?: string | null;
  protocolType: string;
  protocols: JoinGroupProtocol[];
  /** v8+. */
  reason?: string | null;
}

export interface JoinGroupResponseMember {
  memberId: string;
  groupInstanceId: string | null;
  metadata: Buffer;
}

export interface JoinGroupResponse {
  throttleTimeMs: number;
  errorCode: number;
  generationId: number;
  /** v7+ (nullable). */
  protocolType: string | null;
  /** Nullable from v7; '' when there is none before. */
  protocolName: string | null;
  leader: string;
  /** v9+. */
  skipAssignment: boolean;
  memberId: string;
  members: JoinGroupResponseMember[];
}

/** SyncGroup v0-5. */
export interface SyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  /** v3+. */
  groupInstanceId?: string | null;
  /** v5+. */
  protocolType?: string | null;
  /** v5+. */
  protocolName?: string | null;
  assignments: Array<{ memberId: string; assignment: Buffer }>;
}

export interface SyncGroupResponse {
  throttleTimeMs: number;
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

/** Heartbeat v0-4. */
export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  /** v3+. */
  groupInstanceId?: string | null;
}

export interface HeartbeatResponse {
  throttleTimeMs: number;
  errorCode: number;
}

export interface LeaveGroupMemberIdentity {
  memberId: string;
  groupInstanceId: string | null;
  /** v5+. */
  reason?: string | null;
}

/** LeaveGroup v0-5: one `memberId` up to v2, `members` from v3. */
export interface LeaveGroupRequest {
  groupId: string;
  memberId?: string;
  members?: LeaveGroupMemberIdentity[];
}

export interface LeaveGroupResponse {
  throttleTimeMs: number;
  errorCode: number;
  /** v3+. */
  members: Array<{ memberId: string; groupInstanceId: string | null; errorCode: number }>;
}

export interface OffsetCommitRequestPartition {
  partitionIndex: number;
  committedOffset: bigint;
  /** v6+. */
  committedLeaderEpoch?: number;
  /** v1 only. */
  commitTimestamp?: bigint;
  committedMetadata: string | null;
}

/** OffsetCommit v0-9. */
export interface OffsetCommitRequest {
  groupId: string;
  /** v1+; -1 with an empty member id is a commit from outside group management. */
  generationIdOrMemberEpoch?: number;
  /** v1+. */
  memberId?: string;
  /** v7+. */
  groupInstanceId?: string | null;
  /** v2-4; ignored (offsets live until the group is deleted). */
  retentionTimeMs?: bigint;
  topics: Array<{ name: string; partitions: OffsetCommitRequestPartition[] }>;
}

export interface OffsetCommitResponse {
  throttleTimeMs: number;
  topics: Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: number }> }>;
}

export interface OffsetFetchRequestTopic {
  name: string;
  partitionIndexes: number[];
}

/** OffsetFetch v0-9: one group up to v7 (`topics` null from v2 = all), `groups` from v8. */
export interface OffsetFetchRequest {
  groupId?: string;
  topics?: OffsetFetchRequestTopic[] | null;
  groups?: Array<{ groupId: string; memberId?: string | null; memberEpoch?: number; topics: OffsetFetchRequestTopic[] | null }>;
  /** v7+; there are no transactional commits here, so every offset is stable. */
  requireStable?: boolean;
}

export interface OffsetFetchResponsePartition {
  partitionIndex: number;
  committedOffset: bigint;
  committedLeaderEpoch: number;
  metadata: string | null;
  errorCode: number;
}

export interface OffsetFetchResponseTopic {
  name: string;
  partitions: OffsetFetchResponsePartition[];
}

export interface OffsetFetchResponseGroup {
  groupId: string;
  topics: OffsetFetchResponseTopic[];
  errorCode: number;
}

export interface OffsetFetchResponse {
  throttleTimeMs: number;
  /** v0-7. */
  topics: OffsetFetchResponseTopic[];
  /** v2-7. */
  errorCode: number;
  /** v8+. */
  groups: OffsetFetchResponseGroup[];
}

/** DescribeGroups v0-5. */
export interface DescribeGroupsRequest {
  groups: string[];
  /** v3+. */
  includeAuthorizedOperations?: boolean;
}

export interface DescribedGroupMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  memberMetadata: Buffer;
  memberAssignment: Buffer;
}

export interface DescribedGroup {
  errorCode: number;
  groupId: string;
  groupState: string;
  protocolType: string;
  protocolData: string;
  members: DescribedGroupMember[];
  authorizedOperations: number;
}

export interface DescribeGroupsResponse {
  throttleTimeMs: number;
  groups: DescribedGroup[];
}

/** ListGroups v0-5. */
export interface ListGroupsRequest {
  /** v4+. */
  statesFilter?: string[];
  /** v5+. */
  typesFilter?: string[];
}

export interface ListGroupsResponse {
  throttleTimeMs: number;
  errorCode: number;
  groups: Array<{ groupId: string; protocolType: string; groupState: string; groupType: string }>;
}

/** DeleteGroups v0-2. */
export interface DeleteGroupsRequest {
  groupsNames: string[];
}

export interface DeleteGroupsResponse {
  throttleTimeMs: number;
  results: Array<{ groupId: string; errorCode: number }>;
}
