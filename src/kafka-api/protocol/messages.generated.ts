// GENERATED FILE — do not edit. Regenerate with `npm run gen:kafka-api`
// (scripts/kafka-api/gen-messages.ts), from kafka-clients-3.9.2.jar: common/message/*.json.
// Kafka's message definitions as data for codec.ts (shapes in schema.ts), and typed interfaces per message.
/* eslint-disable */
import type { ApiSpec, MessageSpec, TaggedField } from './schema.js';

export const REQUEST_HEADER: MessageSpec = { name: 'RequestHeader', versions: [0, 2], flexibleFrom: 2, fields: [
  { name: 'requestApiKey', type: 'int16', versions: [0, 2] },
  { name: 'requestApiVersion', type: 'int16', versions: [0, 2] },
  { name: 'correlationId', type: 'int32', versions: [0, 2] },
  { name: 'clientId', type: 'string', versions: [1, 2], nullable: [1, 2], flexible: null },
] };

export const RESPONSE_HEADER: MessageSpec = { name: 'ResponseHeader', versions: [0, 1], flexibleFrom: 1, fields: [
  { name: 'correlationId', type: 'int32', versions: [0, 1] },
] };

/** API name → API key. */
export const API_KEYS = {
  ApiVersions: 18,
  Metadata: 3,
  FindCoordinator: 10,
  JoinGroup: 11,
  SyncGroup: 14,
  Heartbeat: 12,
  LeaveGroup: 13,
  OffsetFetch: 9,
  OffsetCommit: 8,
  ListOffsets: 2,
  Fetch: 1,
  DescribeGroups: 15,
  ListGroups: 16,
  DeleteGroups: 42,
  SaslHandshake: 17,
  SaslAuthenticate: 36,
} as const;

export type ApiName = keyof typeof API_KEYS;

/** Per API: key, the generated (valid) versions, flexible versions, and the request and response tables. */
export const APIS: { readonly [K in ApiName]: ApiSpec } = {
  ApiVersions: {
    name: 'ApiVersions', key: 18, validVersions: [0, 4], flexibleVersions: [3, 4],
    request: { name: 'ApiVersionsRequest', versions: [0, 4], flexibleFrom: 3, fields: [
      { name: 'clientSoftwareName', type: 'string', versions: [3, 4] },
      { name: 'clientSoftwareVersion', type: 'string', versions: [3, 4] },
    ] },
    response: { name: 'ApiVersionsResponse', versions: [0, 4], flexibleFrom: 3, fields: [
      { name: 'errorCode', type: 'int16', versions: [0, 4] },
      { name: 'apiKeys', type: '[]struct', versions: [0, 4], struct: 'ApiVersion', fields: [
        { name: 'apiKey', type: 'int16', versions: [0, 4] },
        { name: 'minVersion', type: 'int16', versions: [0, 4] },
        { name: 'maxVersion', type: 'int16', versions: [0, 4] },
      ] },
      { name: 'throttleTimeMs', type: 'int32', versions: [1, 4] },
      { name: 'supportedFeatures', type: '[]struct', versions: [3, 4], tagged: [3, 4], tag: 0, struct: 'SupportedFeatureKey', fields: [
        { name: 'name', type: 'string', versions: [3, 4] },
        { name: 'minVersion', type: 'int16', versions: [3, 4] },
        { name: 'maxVersion', type: 'int16', versions: [3, 4] },
      ] },
      { name: 'finalizedFeaturesEpoch', type: 'int64', versions: [3, 4], tagged: [3, 4], tag: 1, default: "-1" },
      { name: 'finalizedFeatures', type: '[]struct', versions: [3, 4], tagged: [3, 4], tag: 2, struct: 'FinalizedFeatureKey', fields: [
        { name: 'name', type: 'string', versions: [3, 4] },
        { name: 'maxVersionLevel', type: 'int16', versions: [3, 4] },
        { name: 'minVersionLevel', type: 'int16', versions: [3, 4] },
      ] },
      { name: 'zkMigrationReady', type: 'bool', versions: [3, 4], tagged: [3, 4], tag: 3, default: false },
    ] },
  },
  Metadata: {
    name: 'Metadata', key: 3, validVersions: [0, 12], flexibleVersions: [9, 12],
    request: { name: 'MetadataRequest', versions: [0, 12], flexibleFrom: 9, fields: [
      { name: 'topics', type: '[]struct', versions: [0, 12], nullable: [1, 12], struct: 'MetadataRequestTopic', fields: [
        { name: 'topicId', type: 'uuid', versions: [10, 12] },
        { name: 'name', type: 'string', versions: [0, 12], nullable: [10, 12] },
      ] },
      { name: 'allowAutoTopicCreation', type: 'bool', versions: [4, 12], default: true },
      { name: 'includeClusterAuthorizedOperations', type: 'bool', versions: [8, 10] },
      { name: 'includeTopicAuthorizedOperations', type: 'bool', versions: [8, 12] },
    ] },
    response: { name: 'MetadataResponse', versions: [0, 12], flexibleFrom: 9, fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: [3, 12] },
      { name: 'brokers', type: '[]struct', versions: [0, 12], struct: 'MetadataResponseBroker', fields: [
        { name: 'nodeId', type: 'int32', versions: [0, 12] },
        { name: 'host', type: 'string', versions: [0, 12] },
        { name: 'port', type: 'int32', versions: [0, 12] },
        { name: 'rack', type: 'string', versions: [1, 12], nullable: [1, 12], default: null },
      ] },
      { name: 'clusterId', type: 'string', versions: [2, 12], nullable: [2, 12], default: null },
      { name: 'controllerId', type: 'int32', versions: [1, 12], default: -1 },
      { name: 'topics', type: '[]struct', versions: [0, 12], struct: 'MetadataResponseTopic', fields: [
        { name: 'errorCode', type: 'int16', versions: [0, 12] },
        { name: 'name', type: 'string', versions: [0, 12], nullable: [12, 12] },
        { name: 'topicId', type: 'uuid', versions: [10, 12] },
        { name: 'isInternal', type: 'bool', versions: [1, 12], default: false },
        { name: 'partitions', type: '[]struct', versions: [0, 12], struct: 'MetadataResponsePartition', fields: [
          { name: 'errorCode', type: 'int16', versions: [0, 12] },
          { name: 'partitionIndex', type: 'int32', versions: [0, 12] },
          { name: 'leaderId', type: 'int32', versions: [0, 12] },
          { name: 'leaderEpoch', type: 'int32', versions: [7, 12], default: -1 },
          { name: 'replicaNodes', type: '[]int32', versions: [0, 12] },
          { name: 'isrNodes', type: '[]int32', versions: [0, 12] },
          { name: 'offlineReplicas', type: '[]int32', versions: [5, 12] },
        ] },
        { name: 'topicAuthorizedOperations', type: 'int32', versions: [8, 12], default: -2147483648 },
      ] },
      { name: 'clusterAuthorizedOperations', type: 'int32', versions: [8, 10], default: -2147483648 },
    ] },
  },
  FindCoordinator: {
    name: 'FindCoordinator', key: 10, validVersions: [0, 6], flexibleVersions: [3, 6],
    request: { name: 'FindCoordinatorRequest', versions: [0, 6], flexibleFrom: 3, fields: [
      { name: 'key', type: 'string', versions: [0, 3] },
      { name: 'keyType', type: 'int8', versions: [1, 6], default: 0 },
      { name: 'coordinatorKeys', type: '[]string', versions: [4, 6] },
    ] },
    response: { name: 'FindCoordinatorResponse', versions: [0, 6], flexibleFrom: 3, fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: [1, 6] },
      { name: 'errorCode', type: 'int16', versions: [0, 3] },
      { name: 'errorMessage', type: 'string', versions: [1, 3], nullable: [1, 3] },
      { name: 'nodeId', type: 'int32', versions: [0, 3] },
      { name: 'host', type: 'string', versions: [0, 3] },
      { name: 'port', type: 'int32', versions: [0, 3] },
      { name: 'coordinators', type: '[]struct', versions: [4, 6], struct: 'Coordinator', fields: [
        { name: 'key', type: 'string', versions: [4, 6] },
        { name: 'nodeId', type: 'int32', versions: [4, 6] },
        { name: 'host', type: 'string', versions: [4, 6] },
        { name: 'port', type: 'int32', versions: [4, 6] },
        { name: 'errorCode', type: 'int16', versions: [4, 6] },
        { name: 'errorMessage', type: 'string', versions: [4, 6], nullable: [4, 6] },
      ] },
    ] },
  },
  JoinGroup: {
    name: 'JoinGroup', key: 11, validVersions: [0, 9], flexibleVersions: [6, 9],
    request: { name: 'JoinGroupRequest', versions: [0, 9], flexibleFrom: 6, fields: [
      { name: 'groupId', type: 'string', versions: [0, 9] },
      { name: 'sessionTimeoutMs', type: 'int32', versions: [0, 9] },
      { name: 'rebalanceTimeoutMs', type: 'int32', versions: [1, 9], default: -1 },
      { name: 'memberId', type: 'string', versions: [0, 9] },
      { name: 'groupInstanceId', type: 'string', versions: [5, 9], nullable: [5, 9], default: null },
      { name: 'protocolType', type: 'string', versions: [0, 9] },
      { name: 'protocols', type: '[]struct', versions: [0, 9], struct: 'JoinGroupRequestProtocol', fields: [
        { name: 'name', type: 'string', versions: [0, 9] },
        { name: 'metadata', type: 'bytes', versions: [0, 9] },
      ] },
      { name: 'reason', type: 'string', versions: [8, 9], nullable: [8, 9], default: null },
    ] },
    response: { name: 'JoinGroupResponse', versions: [0, 9], flexibleFrom: 6, fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: [2, 9] },
      { name: 'errorCode', type: 'int16', versions: [0, 9] },
      { name: 'generationId', type: 'int32', versions: [0, 9], default: -1 },
      { name: 'protocolType', type: 'string', versions: [7, 9], nullable: [7, 9], default: null },
      { name: 'protocolName', type: 'string', versions: [0, 9], nullable: [7, 9] },
      { name: 'leader', type: 'string', versions: [0, 9] },
      { name: 'skipAssignment', type: 'bool', versions: [9, 9], default: false },
      { name: 'memberId', type: 'string', versions: [0, 9] },
      { name: 'members', type: '[]struct', versions: [0, 9], struct: 'JoinGroupResponseMember', fields: [
        { name: 'memberId', type: 'string', versions: [0, 9] },
        { name: 'groupInstanceId', type: 'string', versions: [5, 9], nullable: [5, 9], default: null },
        { name: 'metadata', type: 'bytes', versions: [0, 9] },
      ] },
    ] },
  },
  SyncGroup: {
    name: 'SyncGroup', key: 14, validVersions: [0, 5], flexibleVersions: [4, 5],
    request: { name: 'SyncGroupRequest', versions: [0, 5], flexibleFrom: 4, fields: [
      { name: 'groupId', type: 'string', versions: [0, 5] },
      { name: 'generationId', type: 'int32', versions: [0, 5] },
      { name: 'memberId', type: 'string', versions: [0, 5] },
      { name: 'groupInstanceId', type: 'string', versions: [3, 5], nullable: [3, 5], default: null },
      { name: 'protocolType', type: 'string', versions: [5, 5], nullable: [5, 5], default: null },
      { name: 'protocolName', type: 'string', versions: [5, 5], nullable: [5, 5], default: null },
      { name: 'assignments', type: '[]struct', versions: [0, 5], struct: 'SyncGroupRequestAssignment', fields: [
        { name: 'memberId', type: 'string', versions: [0, 5] },
        { name: 'assignment', type: 'bytes', versions: [0, 5] },
      ] },
    ] },
    response: { name: 'SyncGroupResponse', versions: [0, 5], flexibleFrom: 4, fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: [1, 5] },
      { name: 'errorCode', type: 'int16', versions: [0, 5] },
      { name: 'protocolType', type: 'string', versions: [5, 5], nullable: [5, 5], default: null },
      { name: 'protocolName', type: 'string', versions: [5, 5], nullable: [5, 5], default: null },
      { name: 'assignment', type: 'bytes', versions: [0, 5] },
    ] },
  },
  Heartbeat: {
    name: 'Heartbeat', key: 12, validVersions: [0, 4], flexibleVersions: [4, 4],
    request: { name: 'HeartbeatRequest', versions: [0, 4], flexibleFrom: 4, fields: [
      { name: 'groupId', type: 'string', versions: [0, 4] },
      { name: 'generationId', type: 'int32', versions: [0, 4] },
      { name: 'memberId', type: 'string', versions: [0, 4] },
      { name: 'groupInstanceId', type: 'string', versions: [3, 4], nullable: [3, 4], default: null },
    ] },
    response: { name: 'HeartbeatResponse', versions: [0, 4], flexibleFrom: 4, fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: [1, 4] },
      { name: 'errorCode', type: 'int16', versions: [0, 4] },
    ] },
  },
  LeaveGroup: {
    name: 'LeaveGroup', key: 13, validVersions: [0, 5], flexibleVersions: [4, 5],
    request: { name: 'LeaveGroupRequest', versions: [0, 5], flexibleFrom: 4, fields: [
      { name: 'groupId', type: 'string', versions: [0, 5] },
      { name: 'memberId', type: 'string', versions: [0, 2] },
      { name: 'members', type: '[]struct', versions: [3, 5], struct: 'MemberIdentity', fields: [
        { name: 'memberId', type: 'string', versions: [3, 5] },
        { name: 'groupInstanceId', type: 'string', versions: [3, 5], nullable: [3, 5], default: null },
        { name: 'reason', type: 'string', versions: [5, 5], nullable: [5, 5], default: null },
      ] },
    ] },
    response: { name: 'LeaveGroupResponse', versions: [0, 5], flexibleFrom: 4, fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: [1, 5] },
      { name: 'errorCode', type: 'int16', versions: [0, 5] },
      { name: 'members', type: '[]struct', versions: [3, 5], struct: 'MemberResponse', fields: [
        { name: 'memberId', type: 'string', versions: [3, 5] },
        { name: 'groupInstanceId', type: 'string', versions: [3, 5], nullable: [3, 5] },
        { name: 'errorCode', type: 'int16', versions: [3, 5] },
      ] },
    ] },
  },
  OffsetFetch: {
    name: 'OffsetFetch', key: 9, validVersions: [0, 9], flexibleVersions: [6, 9],
    request: { name: 'OffsetFetchRequest', versions: [0, 9], flexibleFrom: 6, fields: [
      { name: 'groupId', type: 'string', versions: [0, 7] },
      { name: 'topics', type: '[]struct', versions: [0, 7], nullable: [2, 7], struct: 'OffsetFetchRequestTopic', fields: [
        { name: 'name', type: 'string', versions: [0, 7] },
        { name: 'partitionIndexes', type: '[]int32', versions: [0, 7] },
      ] },
      { name: 'groups', type: '[]struct', versions: [8, 9], struct: 'OffsetFetchRequestGroup', fields: [
        { name: 'groupId', type: 'string', versions: [8, 9] },
        { name: 'memberId', type: 'string', versions: [9, 9], nullable: [9, 9], default: null },
        { name: 'memberEpoch', type: 'int32', versions: [9, 9], default: -1 },
        { name: 'topics', type: '[]struct', versions: [8, 9], nullable: [8, 9], struct: 'OffsetFetchRequestTopics', fields: [
          { name: 'name', type: 'string', versions: [8, 9] },
          { name: 'partitionIndexes', type: '[]int32', versions: [8, 9] },
        ] },
      ] },
      { name: 'requireStable', type: 'bool', versions: [7, 9], default: false },
    ] },
    response: { name: 'OffsetFetchResponse', versions: [0, 9], flexibleFrom: 6, fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: [3, 9] },
      { name: 'topics', type: '[]struct', versions: [0, 7], struct: 'OffsetFetchResponseTopic', fields: [
        { name: 'name', type: 'string', versions: [0, 7] },
        { name: 'partitions', type: '[]struct', versions: [0, 7], struct: 'OffsetFetchResponsePartition', fields: [
          { name: 'partitionIndex', type: 'int32', versions: [0, 7] },
          { name: 'committedOffset', type: 'int64', versions: [0, 7] },
          { name: 'committedLeaderEpoch', type: 'int32', versions: [5, 7], default: -1 },
          { name: 'metadata', type: 'string', versions: [0, 7], nullable: [0, 7] },
          { name: 'errorCode', type: 'int16', versions: [0, 7] },
        ] },
      ] },
      { name: 'errorCode', type: 'int16', versions: [2, 7], default: 0 },
      { name: 'groups', type: '[]struct', versions: [8, 9], struct: 'OffsetFetchResponseGroup', fields: [
        { name: 'groupId', type: 'string', versions: [8, 9] },
        { name: 'topics', type: '[]struct', versions: [8, 9], struct: 'OffsetFetchResponseTopics', fields: [
          { name: 'name', type: 'string', versions: [8, 9] },
          { name: 'partitions', type: '[]struct', versions: [8, 9], struct: 'OffsetFetchResponsePartitions', fields: [
            { name: 'partitionIndex', type: 'int32', versions: [8, 9] },
            { name: 'committedOffset', type: 'int64', versions: [8, 9] },
            { name: 'committedLeaderEpoch', type: 'int32', versions: [8, 9], default: -1 },
            { name: 'metadata', type: 'string', versions: [8, 9], nullable: [8, 9] },
            { name: 'errorCode', type: 'int16', versions: [8, 9] },
          ] },
        ] },
        { name: 'errorCode', type: 'int16', versions: [8, 9], default: 0 },
      ] },
    ] },
  },
  OffsetCommit: {
    name: 'OffsetCommit', key: 8, validVersions: [0, 9], flexibleVersions: [8, 9],
    request: { name: 'OffsetCommitRequest', versions: [0, 9], flexibleFrom: 8, fields: [
      { name: 'groupId', type: 'string', versions: [0, 9] },
      { name: 'generationIdOrMemberEpoch', type: 'int32', versions: [1, 9], default: -1 },
      { name: 'memberId', type: 'string', versions: [1, 9] },
      { name: 'groupInstanceId', type: 'string', versions: [7, 9], nullable: [7, 9], default: null },
      { name: 'retentionTimeMs', type: 'int64', versions: [2, 4], default: "-1" },
      { name: 'topics', type: '[]struct', versions: [0, 9], struct: 'OffsetCommitRequestTopic', fields: [
        { name: 'name', type: 'string', versions: [0, 9] },
        { name: 'partitions', type: '[]struct', versions: [0, 9], struct: 'OffsetCommitRequestPartition', fields: [
          { name: 'partitionIndex', type: 'int32', versions: [0, 9] },
          { name: 'committedOffset', type: 'int64', versions: [0, 9] },
          { name: 'committedLeaderEpoch', type: 'int32', versions: [6, 9], default: -1 },
          { name: 'commitTimestamp', type: 'int64', versions: [1, 1], default: "-1" },
          { name: 'committedMetadata', type: 'string', versions: [0, 9], nullable: [0, 9] },
        ] },
      ] },
    ] },
    response: { name: 'OffsetCommitResponse', versions: [0, 9], flexibleFrom: 8, fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: [3, 9] },
      { name: 'topics', type: '[]struct', versions: [0, 9], struct: 'OffsetCommitResponseTopic', fields: [
        { name: 'name', type: 'string', versions: [0, 9] },
        { name: 'partitions', type: '[]struct', versions: [0, 9], struct: 'OffsetCommitResponsePartition', fields: [
          { name: 'partitionIndex', type: 'int32', versions: [0, 9] },
          { name: 'errorCode', type: 'int16', versions: [0, 9] },
        ] },
      ] },
    ] },
  },
  ListOffsets: {
    name: 'ListOffsets', key: 2, validVersions: [0, 9], flexibleVersions: [6, 9],
    request: { name: 'ListOffsetsRequest', versions: [0, 9], flexibleFrom: 6, fields: [
      { name: 'replicaId', type: 'int32', versions: [0, 9] },
      { name: 'isolationLevel', type: 'int8', versions: [2, 9] },
      { name: 'topics', type: '[]struct', versions: [0, 9], struct: 'ListOffsetsTopic', fields: [
        { name: 'name', type: 'string', versions: [0, 9] },
        { name: 'partitions', type: '[]struct', versions: [0, 9], struct: 'ListOffsetsPartition', fields: [
          { name: 'partitionIndex', type: 'int32', versions: [0, 9] },
          { name: 'currentLeaderEpoch', type: 'int32', versions: [4, 9], default: -1 },
          { name: 'timestamp', type: 'int64', versions: [0, 9] },
          { name: 'maxNumOffsets', type: 'int32', versions: [0, 0], default: 1 },
        ] },
      ] },
    ] },
    response: { name: 'ListOffsetsResponse', versions: [0, 9], flexibleFrom: 6, fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: [2, 9] },
      { name: 'topics', type: '[]struct', versions: [0, 9], struct: 'ListOffsetsTopicResponse', fields: [
        { name: 'name', type: 'string', versions: [0, 9] },
        { name: 'partitions', type: '[]struct', versions: [0, 9], struct: 'ListOffsetsPartitionResponse', fields: [
          { name: 'partitionIndex', type: 'int32', versions: [0, 9] },
          { name: 'errorCode', type: 'int16', versions: [0, 9] },
          { name: 'oldStyleOffsets', type: '[]int64', versions: [0, 0] },
          { name: 'timestamp', type: 'int64', versions: [1, 9], default: "-1" },
          { name: 'offset', type: 'int64', versions: [1, 9], default: "-1" },
          { name: 'leaderEpoch', type: 'int32', versions: [4, 9], default: -1 },
        ] },
      ] },
    ] },
  },
  Fetch: {
    name: 'Fetch', key: 1, validVersions: [0, 17], flexibleVersions: [12, 17],
    request: { name: 'FetchRequest', versions: [0, 17], flexibleFrom: 12, fields: [
      { name: 'clusterId', type: 'string', versions: [12, 17], nullable: [12, 17], tagged: [12, 17], tag: 0, default: null },
      { name: 'replicaId', type: 'int32', versions: [0, 14], default: -1 },
      { name: 'replicaState', type: 'struct', versions: [15, 17], tagged: [15, 17], tag: 1, struct: 'ReplicaState', fields: [
        { name: 'replicaId', type: 'int32', versions: [15, 17], default: -1 },
        { name: 'replicaEpoch', type: 'int64', versions: [15, 17], default: "-1" },
      ] },
      { name: 'maxWaitMs', type: 'int32', versions: [0, 17] },
      { name: 'minBytes', type: 'int32', versions: [0, 17] },
      { name: 'maxBytes', type: 'int32', versions: [3, 17], default: 2147483647 },
      { name: 'isolationLevel', type: 'int8', versions: [4, 17], default: 0 },
      { name: 'sessionId', type: 'int32', versions: [7, 17], default: 0 },
      { name: 'sessionEpoch', type: 'int32', versions: [7, 17], default: -1 },
      { name: 'topics', type: '[]struct', versions: [0, 17], struct: 'FetchTopic', fields: [
        { name: 'topic', type: 'string', versions: [0, 12] },
        { name: 'topicId', type: 'uuid', versions: [13, 17] },
        { name: 'partitions', type: '[]struct', versions: [0, 17], struct: 'FetchPartition', fields: [
          { name: 'partition', type: 'int32', versions: [0, 17] },
          { name: 'currentLeaderEpoch', type: 'int32', versions: [9, 17], default: -1 },
          { name: 'fetchOffset', type: 'int64', versions: [0, 17] },
          { name: 'lastFetchedEpoch', type: 'int32', versions: [12, 17], default: -1 },
          { name: 'logStartOffset', type: 'int64', versions: [5, 17], default: "-1" },
          { name: 'partitionMaxBytes', type: 'int32', versions: [0, 17] },
          { name: 'replicaDirectoryId', type: 'uuid', versions: [17, 17], tagged: [17, 17], tag: 0 },
        ] },
      ] },
      { name: 'forgottenTopicsData', type: '[]struct', versions: [7, 17], struct: 'ForgottenTopic', fields: [
        { name: 'topic', type: 'string', versions: [7, 12] },
        { name: 'topicId', type: 'uuid', versions: [13, 17] },
        { name: 'partitions', type: '[]int32', versions: [7, 17] },
      ] },
      { name: 'rackId', type: 'string', versions: [11, 17], default: "" },
    ] },
    response: { name: 'FetchResponse', versions: [0, 17], flexibleFrom: 12, fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: [1, 17] },
      { name: 'errorCode', type: 'int16', versions: [7, 17] },
      { name: 'sessionId', type: 'int32', versions: [7, 17], default: 0 },
      { name: 'responses', type: '[]struct', versions: [0, 17], struct: 'FetchableTopicResponse', fields: [
        { name: 'topic', type: 'string', versions: [0, 12] },
        { name: 'topicId', type: 'uuid', versions: [13, 17] },
        { name: 'partitions', type: '[]struct', versions: [0, 17], struct: 'PartitionData', fields: [
          { name: 'partitionIndex', type: 'int32', versions: [0, 17] },
          { name: 'errorCode', type: 'int16', versions: [0, 17] },
          { name: 'highWatermark', type: 'int64', versions: [0, 17] },
          { name: 'lastStableOffset', type: 'int64', versions: [4, 17], default: "-1" },
          { name: 'logStartOffset', type: 'int64', versions: [5, 17], default: "-1" },
          { name: 'divergingEpoch', type: 'struct', versions: [12, 17], tagged: [12, 17], tag: 0, struct: 'EpochEndOffset', fields: [
            { name: 'epoch', type: 'int32', versions: [12, 17], default: -1 },
            { name: 'endOffset', type: 'int64', versions: [12, 17], default: "-1" },
          ] },
          { name: 'currentLeader', type: 'struct', versions: [12, 17], tagged: [12, 17], tag: 1, struct: 'LeaderIdAndEpoch', fields: [
            { name: 'leaderId', type: 'int32', versions: [12, 17], default: -1 },
            { name: 'leaderEpoch', type: 'int32', versions: [12, 17], default: -1 },
          ] },
          { name: 'snapshotId', type: 'struct', versions: [12, 17], tagged: [12, 17], tag: 2, struct: 'SnapshotId', fields: [
            { name: 'endOffset', type: 'int64', versions: [12, 17], default: "-1" },
            { name: 'epoch', type: 'int32', versions: [12, 17], default: -1 },
          ] },
          { name: 'abortedTransactions', type: '[]struct', versions: [4, 17], nullable: [4, 17], struct: 'AbortedTransaction', fields: [
            { name: 'producerId', type: 'int64', versions: [4, 17] },
            { name: 'firstOffset', type: 'int64', versions: [4, 17] },
          ] },
          { name: 'preferredReadReplica', type: 'int32', versions: [11, 17], default: -1 },
          { name: 'records', type: 'records', versions: [0, 17], nullable: [0, 17] },
        ] },
      ] },
      { name: 'nodeEndpoints', type: '[]struct', versions: [16, 17], tagged: [16, 17], tag: 0, struct: 'NodeEndpoint', fields: [
        { name: 'nodeId', type: 'int32', versions: [16, 17] },
        { name: 'host', type: 'string', versions: [16, 17] },
        { name: 'port', type: 'int32', versions: [16, 17] },
        { name: 'rack', type: 'string', versions: [16, 17], nullable: [16, 17], default: null },
      ] },
    ] },
  },
  DescribeGroups: {
    name: 'DescribeGroups', key: 15, validVersions: [0, 5], flexibleVersions: [5, 5],
    request: { name: 'DescribeGroupsRequest', versions: [0, 5], flexibleFrom: 5, fields: [
      { name: 'groups', type: '[]string', versions: [0, 5] },
      { name: 'includeAuthorizedOperations', type: 'bool', versions: [3, 5] },
    ] },
    response: { name: 'DescribeGroupsResponse', versions: [0, 5], flexibleFrom: 5, fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: [1, 5] },
      { name: 'groups', type: '[]struct', versions: [0, 5], struct: 'DescribedGroup', fields: [
        { name: 'errorCode', type: 'int16', versions: [0, 5] },
        { name: 'groupId', type: 'string', versions: [0, 5] },
        { name: 'groupState', type: 'string', versions: [0, 5] },
        { name: 'protocolType', type: 'string', versions: [0, 5] },
        { name: 'protocolData', type: 'string', versions: [0, 5] },
        { name: 'members', type: '[]struct', versions: [0, 5], struct: 'DescribedGroupMember', fields: [
          { name: 'memberId', type: 'string', versions: [0, 5] },
          { name: 'groupInstanceId', type: 'string', versions: [4, 5], nullable: [4, 5], default: null },
          { name: 'clientId', type: 'string', versions: [0, 5] },
          { name: 'clientHost', type: 'string', versions: [0, 5] },
          { name: 'memberMetadata', type: 'bytes', versions: [0, 5] },
          { name: 'memberAssignment', type: 'bytes', versions: [0, 5] },
        ] },
        { name: 'authorizedOperations', type: 'int32', versions: [3, 5], default: -2147483648 },
      ] },
    ] },
  },
  ListGroups: {
    name: 'ListGroups', key: 16, validVersions: [0, 5], flexibleVersions: [3, 5],
    request: { name: 'ListGroupsRequest', versions: [0, 5], flexibleFrom: 3, fields: [
      { name: 'statesFilter', type: '[]string', versions: [4, 5] },
      { name: 'typesFilter', type: '[]string', versions: [5, 5] },
    ] },
    response: { name: 'ListGroupsResponse', versions: [0, 5], flexibleFrom: 3, fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: [1, 5] },
      { name: 'errorCode', type: 'int16', versions: [0, 5] },
      { name: 'groups', type: '[]struct', versions: [0, 5], struct: 'ListedGroup', fields: [
        { name: 'groupId', type: 'string', versions: [0, 5] },
        { name: 'protocolType', type: 'string', versions: [0, 5] },
        { name: 'groupState', type: 'string', versions: [4, 5] },
        { name: 'groupType', type: 'string', versions: [5, 5] },
      ] },
    ] },
  },
  DeleteGroups: {
    name: 'DeleteGroups', key: 42, validVersions: [0, 2], flexibleVersions: [2, 2],
    request: { name: 'DeleteGroupsRequest', versions: [0, 2], flexibleFrom: 2, fields: [
      { name: 'groupsNames', type: '[]string', versions: [0, 2] },
    ] },
    response: { name: 'DeleteGroupsResponse', versions: [0, 2], flexibleFrom: 2, fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: [0, 2] },
      { name: 'results', type: '[]struct', versions: [0, 2], struct: 'DeletableGroupResult', fields: [
        { name: 'groupId', type: 'string', versions: [0, 2] },
        { name: 'errorCode', type: 'int16', versions: [0, 2] },
      ] },
    ] },
  },
  SaslHandshake: {
    name: 'SaslHandshake', key: 17, validVersions: [0, 1], flexibleVersions: null,
    request: { name: 'SaslHandshakeRequest', versions: [0, 1], flexibleFrom: null, fields: [
      { name: 'mechanism', type: 'string', versions: [0, 1] },
    ] },
    response: { name: 'SaslHandshakeResponse', versions: [0, 1], flexibleFrom: null, fields: [
      { name: 'errorCode', type: 'int16', versions: [0, 1] },
      { name: 'mechanisms', type: '[]string', versions: [0, 1] },
    ] },
  },
  SaslAuthenticate: {
    name: 'SaslAuthenticate', key: 36, validVersions: [0, 2], flexibleVersions: [2, 2],
    request: { name: 'SaslAuthenticateRequest', versions: [0, 2], flexibleFrom: 2, fields: [
      { name: 'authBytes', type: 'bytes', versions: [0, 2] },
    ] },
    response: { name: 'SaslAuthenticateResponse', versions: [0, 2], flexibleFrom: 2, fields: [
      { name: 'errorCode', type: 'int16', versions: [0, 2] },
      { name: 'errorMessage', type: 'string', versions: [0, 2], nullable: [0, 2] },
      { name: 'authBytes', type: 'bytes', versions: [0, 2] },
      { name: 'sessionLifetimeMs', type: 'int64', versions: [1, 2], default: "0" },
    ] },
  },
};

// ---- interfaces: a field that exists only in some versions, or is tagged, is optional ----

export interface ApiVersionsRequest {
  clientSoftwareName?: string;
  clientSoftwareVersion?: string;
  _unknownTaggedFields?: TaggedField[];
}

export interface ApiVersionsResponse {
  errorCode: number;
  apiKeys: ApiVersionsResponse.ApiVersion[];
  throttleTimeMs?: number;
  supportedFeatures?: ApiVersionsResponse.SupportedFeatureKey[];
  finalizedFeaturesEpoch?: bigint;
  finalizedFeatures?: ApiVersionsResponse.FinalizedFeatureKey[];
  zkMigrationReady?: boolean;
  _unknownTaggedFields?: TaggedField[];
}
export namespace ApiVersionsResponse {
  export interface ApiVersion {
    apiKey: number;
    minVersion: number;
    maxVersion: number;
    _unknownTaggedFields?: TaggedField[];
  }
  export interface SupportedFeatureKey {
    name: string;
    minVersion: number;
    maxVersion: number;
    _unknownTaggedFields?: TaggedField[];
  }
  export interface FinalizedFeatureKey {
    name: string;
    maxVersionLevel: number;
    minVersionLevel: number;
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface MetadataRequest {
  topics: MetadataRequest.MetadataRequestTopic[] | null;
  allowAutoTopicCreation?: boolean;
  includeClusterAuthorizedOperations?: boolean;
  includeTopicAuthorizedOperations?: boolean;
  _unknownTaggedFields?: TaggedField[];
}
export namespace MetadataRequest {
  export interface MetadataRequestTopic {
    topicId?: Buffer;
    name: string | null;
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface MetadataResponse {
  throttleTimeMs?: number;
  brokers: MetadataResponse.MetadataResponseBroker[];
  clusterId?: string | null;
  controllerId?: number;
  topics: MetadataResponse.MetadataResponseTopic[];
  clusterAuthorizedOperations?: number;
  _unknownTaggedFields?: TaggedField[];
}
export namespace MetadataResponse {
  export interface MetadataResponseBroker {
    nodeId: number;
    host: string;
    port: number;
    rack?: string | null;
    _unknownTaggedFields?: TaggedField[];
  }
  export interface MetadataResponseTopic {
    errorCode: number;
    name: string | null;
    topicId?: Buffer;
    isInternal?: boolean;
    partitions: MetadataResponse.MetadataResponsePartition[];
    topicAuthorizedOperations?: number;
    _unknownTaggedFields?: TaggedField[];
  }
  export interface MetadataResponsePartition {
    errorCode: number;
    partitionIndex: number;
    leaderId: number;
    leaderEpoch?: number;
    replicaNodes: number[];
    isrNodes: number[];
    offlineReplicas?: number[];
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface FindCoordinatorRequest {
  key?: string;
  keyType?: number;
  coordinatorKeys?: string[];
  _unknownTaggedFields?: TaggedField[];
}

export interface FindCoordinatorResponse {
  throttleTimeMs?: number;
  errorCode?: number;
  errorMessage?: string | null;
  nodeId?: number;
  host?: string;
  port?: number;
  coordinators?: FindCoordinatorResponse.Coordinator[];
  _unknownTaggedFields?: TaggedField[];
}
export namespace FindCoordinatorResponse {
  export interface Coordinator {
    key: string;
    nodeId: number;
    host: string;
    port: number;
    errorCode: number;
    errorMessage: string | null;
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface JoinGroupRequest {
  groupId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs?: number;
  memberId: string;
  groupInstanceId?: string | null;
  protocolType: string;
  protocols: JoinGroupRequest.JoinGroupRequestProtocol[];
  reason?: string | null;
  _unknownTaggedFields?: TaggedField[];
}
export namespace JoinGroupRequest {
  export interface JoinGroupRequestProtocol {
    name: string;
    metadata: Buffer;
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface JoinGroupResponse {
  throttleTimeMs?: number;
  errorCode: number;
  generationId: number;
  protocolType?: string | null;
  protocolName: string | null;
  leader: string;
  skipAssignment?: boolean;
  memberId: string;
  members: JoinGroupResponse.JoinGroupResponseMember[];
  _unknownTaggedFields?: TaggedField[];
}
export namespace JoinGroupResponse {
  export interface JoinGroupResponseMember {
    memberId: string;
    groupInstanceId?: string | null;
    metadata: Buffer;
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface SyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId?: string | null;
  protocolType?: string | null;
  protocolName?: string | null;
  assignments: SyncGroupRequest.SyncGroupRequestAssignment[];
  _unknownTaggedFields?: TaggedField[];
}
export namespace SyncGroupRequest {
  export interface SyncGroupRequestAssignment {
    memberId: string;
    assignment: Buffer;
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface SyncGroupResponse {
  throttleTimeMs?: number;
  errorCode: number;
  protocolType?: string | null;
  protocolName?: string | null;
  assignment: Buffer;
  _unknownTaggedFields?: TaggedField[];
}

export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId?: string | null;
  _unknownTaggedFields?: TaggedField[];
}

export interface HeartbeatResponse {
  throttleTimeMs?: number;
  errorCode: number;
  _unknownTaggedFields?: TaggedField[];
}

export interface LeaveGroupRequest {
  groupId: string;
  memberId?: string;
  members?: LeaveGroupRequest.MemberIdentity[];
  _unknownTaggedFields?: TaggedField[];
}
export namespace LeaveGroupRequest {
  export interface MemberIdentity {
    memberId: string;
    groupInstanceId: string | null;
    reason?: string | null;
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface LeaveGroupResponse {
  throttleTimeMs?: number;
  errorCode: number;
  members?: LeaveGroupResponse.MemberResponse[];
  _unknownTaggedFields?: TaggedField[];
}
export namespace LeaveGroupResponse {
  export interface MemberResponse {
    memberId: string;
    groupInstanceId: string | null;
    errorCode: number;
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface OffsetFetchRequest {
  groupId?: string;
  topics?: OffsetFetchRequest.OffsetFetchRequestTopic[] | null;
  groups?: OffsetFetchRequest.OffsetFetchRequestGroup[];
  requireStable?: boolean;
  _unknownTaggedFields?: TaggedField[];
}
export namespace OffsetFetchRequest {
  export interface OffsetFetchRequestTopic {
    name: string;
    partitionIndexes: number[];
    _unknownTaggedFields?: TaggedField[];
  }
  export interface OffsetFetchRequestGroup {
    groupId: string;
    memberId?: string | null;
    memberEpoch?: number;
    topics: OffsetFetchRequest.OffsetFetchRequestTopics[] | null;
    _unknownTaggedFields?: TaggedField[];
  }
  export interface OffsetFetchRequestTopics {
    name: string;
    partitionIndexes: number[];
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface OffsetFetchResponse {
  throttleTimeMs?: number;
  topics?: OffsetFetchResponse.OffsetFetchResponseTopic[];
  errorCode?: number;
  groups?: OffsetFetchResponse.OffsetFetchResponseGroup[];
  _unknownTaggedFields?: TaggedField[];
}
export namespace OffsetFetchResponse {
  export interface OffsetFetchResponseTopic {
    name: string;
    partitions: OffsetFetchResponse.OffsetFetchResponsePartition[];
    _unknownTaggedFields?: TaggedField[];
  }
  export interface OffsetFetchResponsePartition {
    partitionIndex: number;
    committedOffset: bigint;
    committedLeaderEpoch?: number;
    metadata: string | null;
    errorCode: number;
    _unknownTaggedFields?: TaggedField[];
  }
  export interface OffsetFetchResponseGroup {
    groupId: string;
    topics: OffsetFetchResponse.OffsetFetchResponseTopics[];
    errorCode: number;
    _unknownTaggedFields?: TaggedField[];
  }
  export interface OffsetFetchResponseTopics {
    name: string;
    partitions: OffsetFetchResponse.OffsetFetchResponsePartitions[];
    _unknownTaggedFields?: TaggedField[];
  }
  export interface OffsetFetchResponsePartitions {
    partitionIndex: number;
    committedOffset: bigint;
    committedLeaderEpoch: number;
    metadata: string | null;
    errorCode: number;
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface OffsetCommitRequest {
  groupId: string;
  generationIdOrMemberEpoch?: number;
  memberId?: string;
  groupInstanceId?: string | null;
  retentionTimeMs?: bigint;
  topics: OffsetCommitRequest.OffsetCommitRequestTopic[];
  _unknownTaggedFields?: TaggedField[];
}
export namespace OffsetCommitRequest {
  export interface OffsetCommitRequestTopic {
    name: string;
    partitions: OffsetCommitRequest.OffsetCommitRequestPartition[];
    _unknownTaggedFields?: TaggedField[];
  }
  export interface OffsetCommitRequestPartition {
    partitionIndex: number;
    committedOffset: bigint;
    committedLeaderEpoch?: number;
    commitTimestamp?: bigint;
    committedMetadata: string | null;
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface OffsetCommitResponse {
  throttleTimeMs?: number;
  topics: OffsetCommitResponse.OffsetCommitResponseTopic[];
  _unknownTaggedFields?: TaggedField[];
}
export namespace OffsetCommitResponse {
  export interface OffsetCommitResponseTopic {
    name: string;
    partitions: OffsetCommitResponse.OffsetCommitResponsePartition[];
    _unknownTaggedFields?: TaggedField[];
  }
  export interface OffsetCommitResponsePartition {
    partitionIndex: number;
    errorCode: number;
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface ListOffsetsRequest {
  replicaId: number;
  isolationLevel?: number;
  topics: ListOffsetsRequest.ListOffsetsTopic[];
  _unknownTaggedFields?: TaggedField[];
}
export namespace ListOffsetsRequest {
  export interface ListOffsetsTopic {
    name: string;
    partitions: ListOffsetsRequest.ListOffsetsPartition[];
    _unknownTaggedFields?: TaggedField[];
  }
  export interface ListOffsetsPartition {
    partitionIndex: number;
    currentLeaderEpoch?: number;
    timestamp: bigint;
    maxNumOffsets?: number;
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface ListOffsetsResponse {
  throttleTimeMs?: number;
  topics: ListOffsetsResponse.ListOffsetsTopicResponse[];
  _unknownTaggedFields?: TaggedField[];
}
export namespace ListOffsetsResponse {
  export interface ListOffsetsTopicResponse {
    name: string;
    partitions: ListOffsetsResponse.ListOffsetsPartitionResponse[];
    _unknownTaggedFields?: TaggedField[];
  }
  export interface ListOffsetsPartitionResponse {
    partitionIndex: number;
    errorCode: number;
    oldStyleOffsets?: bigint[];
    timestamp?: bigint;
    offset?: bigint;
    leaderEpoch?: number;
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface FetchRequest {
  clusterId?: string | null;
  replicaId?: number;
  replicaState?: FetchRequest.ReplicaState;
  maxWaitMs: number;
  minBytes: number;
  maxBytes?: number;
  isolationLevel?: number;
  sessionId?: number;
  sessionEpoch?: number;
  topics: FetchRequest.FetchTopic[];
  forgottenTopicsData?: FetchRequest.ForgottenTopic[];
  rackId?: string;
  _unknownTaggedFields?: TaggedField[];
}
export namespace FetchRequest {
  export interface ReplicaState {
    replicaId: number;
    replicaEpoch: bigint;
    _unknownTaggedFields?: TaggedField[];
  }
  export interface FetchTopic {
    topic?: string;
    topicId?: Buffer;
    partitions: FetchRequest.FetchPartition[];
    _unknownTaggedFields?: TaggedField[];
  }
  export interface FetchPartition {
    partition: number;
    currentLeaderEpoch?: number;
    fetchOffset: bigint;
    lastFetchedEpoch?: number;
    logStartOffset?: bigint;
    partitionMaxBytes: number;
    replicaDirectoryId?: Buffer;
    _unknownTaggedFields?: TaggedField[];
  }
  export interface ForgottenTopic {
    topic?: string;
    topicId?: Buffer;
    partitions: number[];
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface FetchResponse {
  throttleTimeMs?: number;
  errorCode?: number;
  sessionId?: number;
  responses: FetchResponse.FetchableTopicResponse[];
  nodeEndpoints?: FetchResponse.NodeEndpoint[];
  _unknownTaggedFields?: TaggedField[];
}
export namespace FetchResponse {
  export interface FetchableTopicResponse {
    topic?: string;
    topicId?: Buffer;
    partitions: FetchResponse.PartitionData[];
    _unknownTaggedFields?: TaggedField[];
  }
  export interface PartitionData {
    partitionIndex: number;
    errorCode: number;
    highWatermark: bigint;
    lastStableOffset?: bigint;
    logStartOffset?: bigint;
    divergingEpoch?: FetchResponse.EpochEndOffset;
    currentLeader?: FetchResponse.LeaderIdAndEpoch;
    snapshotId?: FetchResponse.SnapshotId;
    abortedTransactions?: FetchResponse.AbortedTransaction[] | null;
    preferredReadReplica?: number;
    records: Buffer | null;
    _unknownTaggedFields?: TaggedField[];
  }
  export interface EpochEndOffset {
    epoch: number;
    endOffset: bigint;
    _unknownTaggedFields?: TaggedField[];
  }
  export interface LeaderIdAndEpoch {
    leaderId: number;
    leaderEpoch: number;
    _unknownTaggedFields?: TaggedField[];
  }
  export interface SnapshotId {
    endOffset: bigint;
    epoch: number;
    _unknownTaggedFields?: TaggedField[];
  }
  export interface AbortedTransaction {
    producerId: bigint;
    firstOffset: bigint;
    _unknownTaggedFields?: TaggedField[];
  }
  export interface NodeEndpoint {
    nodeId: number;
    host: string;
    port: number;
    rack: string | null;
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface DescribeGroupsRequest {
  groups: string[];
  includeAuthorizedOperations?: boolean;
  _unknownTaggedFields?: TaggedField[];
}

export interface DescribeGroupsResponse {
  throttleTimeMs?: number;
  groups: DescribeGroupsResponse.DescribedGroup[];
  _unknownTaggedFields?: TaggedField[];
}
export namespace DescribeGroupsResponse {
  export interface DescribedGroup {
    errorCode: number;
    groupId: string;
    groupState: string;
    protocolType: string;
    protocolData: string;
    members: DescribeGroupsResponse.DescribedGroupMember[];
    authorizedOperations?: number;
    _unknownTaggedFields?: TaggedField[];
  }
  export interface DescribedGroupMember {
    memberId: string;
    groupInstanceId?: string | null;
    clientId: string;
    clientHost: string;
    memberMetadata: Buffer;
    memberAssignment: Buffer;
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface ListGroupsRequest {
  statesFilter?: string[];
  typesFilter?: string[];
  _unknownTaggedFields?: TaggedField[];
}

export interface ListGroupsResponse {
  throttleTimeMs?: number;
  errorCode: number;
  groups: ListGroupsResponse.ListedGroup[];
  _unknownTaggedFields?: TaggedField[];
}
export namespace ListGroupsResponse {
  export interface ListedGroup {
    groupId: string;
    protocolType: string;
    groupState?: string;
    groupType?: string;
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface DeleteGroupsRequest {
  groupsNames: string[];
  _unknownTaggedFields?: TaggedField[];
}

export interface DeleteGroupsResponse {
  throttleTimeMs: number;
  results: DeleteGroupsResponse.DeletableGroupResult[];
  _unknownTaggedFields?: TaggedField[];
}
export namespace DeleteGroupsResponse {
  export interface DeletableGroupResult {
    groupId: string;
    errorCode: number;
    _unknownTaggedFields?: TaggedField[];
  }
}

export interface SaslHandshakeRequest {
  mechanism: string;
}

export interface SaslHandshakeResponse {
  errorCode: number;
  mechanisms: string[];
}

export interface SaslAuthenticateRequest {
  authBytes: Buffer;
  _unknownTaggedFields?: TaggedField[];
}

export interface SaslAuthenticateResponse {
  errorCode: number;
  errorMessage: string | null;
  authBytes: Buffer;
  sessionLifetimeMs?: bigint;
  _unknownTaggedFields?: TaggedField[];
}
