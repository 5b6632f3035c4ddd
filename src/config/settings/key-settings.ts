import { integer, text } from './setting-builders.js';

/** Who is trusted: connection tokens, device and operator key sets, and the clock skew they tolerate. Part of ConfigSchema, in its order. */
export const keySettings = {
  tokenAudience: text(
    { env: 'TELEMETRY_TOKEN_AUDIENCE', description: 'Required aud of MQTT connection tokens' },
    'telemetry-ingest',
  ),
  maxTokenLifetimeSeconds: integer(
    { env: 'TELEMETRY_MAX_TOKEN_LIFETIME_SECONDS', description: 'Longest connection token lifetime accepted' },
    86_400,
    60,
  ),
  keyRegistry: text(
    {
      env: 'TELEMETRY_KEY_REGISTRY',
      flag: 'key-registry',
      description: 'Device key registry: JWKS file or https URL; empty for none',
    },
    'data/registry.jwks.json',
  ),
  credentialIssuers: text(
    {
      env: 'TELEMETRY_CREDENTIAL_ISSUERS',
      flag: 'credential-issuers',
      description: 'Fleet issuer public keys (JWKS file or https URL) for device credentials; empty for none',
    },
    '',
  ),
  operatorIssuers: text(
    {
      env: 'TELEMETRY_OPERATOR_ISSUERS',
      flag: 'operator-issuers',
      description: 'Operator issuer public keys (JWKS file or https URL) for query tokens; empty for none',
    },
    '',
  ),
  keysRefreshSeconds: integer(
    { env: 'TELEMETRY_KEYS_REFRESH_SECONDS', description: 'How often key sets are reloaded; 0 never' },
    30,
    0,
  ),
  clockSkewSeconds: integer(
    {
      env: 'TELEMETRY_CLOCK_SKEW_SECONDS',
      description: 'Clock difference tolerated on tokens, credentials and future readings',
    },
    60,
    0,
    3600,
  ),
};
