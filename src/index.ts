/**
 * The public face of the protocol core: what devices, the simulator and the
 * ingest node share. Everything here runs without sockets.
 */

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
export type { ConnectionTokenOptions, VerifiedConnection } from './protocol/connection-token.js';
export { DEFAULT_TOKEN_AUDIENCE, signConnectionToken, verifyConnectionToken } from './protocol/connection-token.js';
export { type DeliveryAck, encodeDeliveryAck, parseDeliveryAck } from './protocol/delivery-ack.js';
export type { DeviceAlgorithm } from './protocol/device-algorithm.js';
export { DEVICE_ALGORITHMS, isDeviceAlgorithm } from './protocol/device-algorithm.js';
export type { DeviceSigner } from './protocol/device-signer.js';
export { deviceSignerFromJwk } from './protocol/device-signer.js';
export type { ProtocolLimits } from './protocol/limits.js';
export {
  CONNECTION_TOKEN_TYP,
  CREDENTIAL_HEADER,
  CREDENTIAL_TYP,
  DEFAULT_LIMITS,
  MESSAGE_TYP,
  OPERATOR_TOKEN_TYP,
  PROTOCOL_VERSION,
} from './protocol/limits.js';
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
