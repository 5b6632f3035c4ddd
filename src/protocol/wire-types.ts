// The names on the wire: the protocol version and each JWS/JWT `typ`. Kept apart from limits.ts, whose
// defaults come from the config schema, so that signing and verifying load no schema library
// (`telemetry keys sign` starts without TypeBox).

/** Protocol version carried in every payload as `v`. */
export const PROTOCOL_VERSION = 1;

/** JWS `typ` of a telemetry message (RFC 7515 §4.1.9; media type without the application/ prefix). */
export const MESSAGE_TYP = 'telemetry+jws';
/** JWT `typ` of an MQTT connection token. */
export const CONNECTION_TOKEN_TYP = 'connect+jwt';
/** JWT `typ` of a device credential issued by a fleet issuer. */
export const CREDENTIAL_TYP = 'device-credential+jwt';
/** JWT `typ` of an operator token for the query API. */
export const OPERATOR_TOKEN_TYP = 'operator+jwt';
/** JWS header member that carries a device credential. */
export const CREDENTIAL_HEADER = 'dcr';
