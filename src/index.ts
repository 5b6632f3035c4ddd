/**
 * The public face of the protocol core: what devices, the simulator and the
 * ingest node share. Everything here runs without sockets.
 */

export type { BacklogEntry } from './device-client/bounded-backlog.js';
export { BoundedBacklog } from './device-client/bounded-backlog.js';
export type { ConnectionTokenSchedule } from './device-client/connection-token-schedule.js';
export {
  connectionTokenSchedule,
  TOKEN_RENEW_GRACE_MS,
  TOKEN_RENEW_SHARE,
  tokenDueForRenewal,
} from './device-client/connection-token-schedule.js';
export { outcomeOfBatchResult, outcomeOfResponse } from './device-client/http-outcome.js';
export type { MessageLimits } from './device-client/message-budget.js';
export { messageOverhead, readingsThatFit } from './device-client/message-budget.js';
export { outcomeOfNotice } from './device-client/notice-outcome.js';
export { parseErrorNotice } from './device-client/parse-error-notice.js';
export type { BackoffPolicy, Jitter } from './device-client/retry-delay.js';
export { DEFAULT_BACKOFF, RANDOM_JITTER, retryDelay } from './device-client/retry-delay.js';
export type { Pending } from './device-client/retry-queue.js';
export { firstAttempt, RetryQueue } from './device-client/retry-queue.js';
export type { SendOutcome } from './device-client/send-outcome.js';
export type { SeqCounterOptions } from './device-client/seq-counter.js';
export { SeqCounter } from './device-client/seq-counter.js';
export type { ErrorCode, ErrorPolicy, MqttErrorCode } from './errors.js';
export {
  asTelemetryError,
  ConfigError,
  ERROR_POLICIES,
  HTTP_ONLY_CODES,
  isErrorCode,
  TelemetryError,
} from './errors.js';
export { CredentialKeySource } from './identity/credential-key-source.js';
export { DeviceKeys } from './identity/device-keys.js';
export type { GeneratedKey } from './identity/generate-key.js';
export { generateKey, newKeyId } from './identity/generate-key.js';
export { issueCredential } from './identity/issue-credential.js';
export type { RegistryKey } from './identity/jwks-registry.js';
export { JwksRegistry, parseJwks } from './identity/jwks-registry.js';
export { loadJsonDocument } from './identity/load-json-document.js';
export { isOperatorScope, issueOperatorToken, verifyOperatorToken } from './identity/operator-token.js';
export { RefreshingRegistry } from './identity/refreshing-registry.js';
export { addRegistryKey } from './identity/registry-file.js';
export type { ConnectionTokenOptions, VerifiedConnection } from './protocol/connection-token.js';
export { DEFAULT_TOKEN_AUDIENCE, signConnectionToken, verifyConnectionToken } from './protocol/connection-token.js';
export { type DeliveryAck, encodeDeliveryAck, parseDeliveryAck } from './protocol/delivery-ack.js';
export type { DeviceAlgorithm } from './protocol/device-algorithm.js';
export { DEVICE_ALGORITHMS, isDeviceAlgorithm } from './protocol/device-algorithm.js';
export type { DeviceSigner } from './protocol/device-signer.js';
export { deviceSignerFromJwk } from './protocol/device-signer.js';
export type { ProtocolLimits } from './protocol/limits.js';
export { DEFAULT_LIMITS } from './protocol/limits.js';
export type { KeySourceKind, Reading, TelemetryPayload, VerifiedMessage, WireReading } from './protocol/message.js';
export { DEVICE_ID_PATTERN, isDeviceId, isMetricName, METRIC_NAME_PATTERN } from './protocol/names.js';
export { parseStrictJson } from './protocol/parse-strict-json.js';
export { signMessage, signPayload } from './protocol/sign-message.js';
export type { ErrorNotice } from './protocol/topics.js';
export { acksTopic, deviceOfMessagesTopic, errorsTopic, messagesTopic } from './protocol/topics.js';
export type { DeviceKeySource, TrustedKey } from './protocol/trusted-key.js';
export { validatePayload } from './protocol/validate-payload.js';
export type { VerifyContext, VerifyMessageDeps } from './protocol/verify-message.js';
export { verifyMessage } from './protocol/verify-message.js';
export {
  CONNECTION_TOKEN_TYP,
  CREDENTIAL_HEADER,
  CREDENTIAL_TYP,
  MESSAGE_TYP,
  OPERATOR_TOKEN_TYP,
  PROTOCOL_VERSION,
} from './protocol/wire-types.js';
