/**
 * The session layer: sans-IO state machines for both ends of a deltaframe
 * connection — handshake, credit window and acks, conflation and slow-consumer
 * policies, heartbeats, drain, resume (docs/sessions.md, docs/protocol.md).
 * Time enters only as a `now` argument (ms); nothing here does I/O.
 *
 * @module
 */

export {
  ClientSession,
  type ClientSessionOptions,
  type ResumeState,
  type ResumeSubscription,
} from "./client.js";
export { ReceiveWindow, SendWindow } from "./credit.js";
export { type CloseHint, MAX_REASON_BYTES } from "./endpoint.js";
export {
  type KeyedSourceOptions,
  type KeyedStateLike,
  keyedSource,
  type StreamPosition,
} from "./keyed-source.js";
export {
  type CloseInfo,
  DROP_POSITION_CLOSE_CODES,
  DROP_TOKEN_CLOSE_CODES,
  type ReconnectDecision,
  ReconnectPolicy,
  type ReconnectPolicyOptions,
  resumeStateFor,
  TERMINAL_CLOSE_CODES,
} from "./reconnect.js";
export {
  encodeResumeToken,
  InMemoryRetainedLog,
  type InMemoryRetainedLogOptions,
  InMemoryTokenStore,
  MAX_SESSION_ID_BYTES,
  MAX_TOKEN_BYTES,
  type ResumeTokenFields,
  sessionIdHex,
  verifyResumeToken,
} from "./resume.js";
export {
  type AcceptOptions,
  type DrainOptions,
  MIN_MESSAGE_BYTES,
  ServerSession,
  type ServerSessionOptions,
  SUPPORTED_VERSIONS,
} from "./server.js";
export {
  applyBatch,
  LockstepView,
  MAX_SHARED_VARIANTS,
  SharedBatch,
  type SharedBatchMetrics,
  type SharedWire,
} from "./shared-batch.js";
export {
  CLIENT_TRANSITIONS,
  type ClientState,
  type ClientTrigger,
  nextState,
  SERVER_TRANSITIONS,
  type ServerState,
  type ServerTrigger,
  type Transition,
} from "./transitions.js";
export type {
  ChangeKind,
  ClientEvent,
  ClosedEvent,
  KeyChange,
  KeyEntry,
  KeyedSource,
  PublishedChange,
  PublishedEvent,
  PublishItem,
  RetainedEntry,
  RetainedLog,
  RttEvent,
  ServerEvent,
  SessionMetrics,
  SnapshotItem,
  SubscribeOptions,
  TokenConsumeResult,
  TokenSigner,
  TokenStore,
} from "./types.js";
