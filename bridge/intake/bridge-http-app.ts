import { fastify, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { BridgeMetrics } from '../bridge-metrics.js';
import { parseJsonObject } from '../mapping/collect-values.js';
import { readJsonReadings } from '../mapping/json-readings.js';
import { isPrecision, readLineProtocol } from '../mapping/line-protocol-readings.js';
import type { ReadingIntake } from '../reading-intake.js';
import type { LocalBrokerState } from './mqtt-intake.js';

/** What the bridge's own HTTP server serves from. */
export interface BridgeHttpDeps {
  readonly intake: ReadingIntake;
  readonly metrics: BridgeMetrics;
  readonly logger: Logger;
  readonly devicePrefix: string;
  /** What /healthz reports beyond "up": the subscription on the local broker (`off` without one) and the backlog. */
  readonly health: () => { readonly mqtt: LocalBrokerState | 'off'; readonly backlog: number };
}

/** Largest request body taken: a Telegraf flush of several thousand lines. */
const BODY_LIMIT = 16 * 1_048_576;

/**
 * The bridge's local HTTP endpoint, for devices and tools that speak HTTP:
 * `POST /v1/readings` (JSON), `POST /write` and `POST /api/v2/write`
 * (InfluxDB line protocol, what Telegraf and Node-RED send), and for
 * operators `GET /metrics` and `GET /healthz`. A request is answered 204 once
 * its readings are in the backlog; 400 when nothing in it could be used.
 */
export function buildBridgeHttpApp(deps: BridgeHttpDeps) {
  const app = fastify({
    loggerInstance: deps.logger,
    bodyLimit: BODY_LIMIT,
    // Requests are counted in /metrics; a log line each would drown the skips worth reading.
    logController: new LogController({ disableRequestLogging: true }),
  });
  // Every body is read as text and parsed here, so a malformed one is a counted skip rather than a framework error.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  const answer = (accepted: number, skipped: number) =>
    accepted === 0 && skipped > 0
      ? { status: 400, body: { error: 'nothing in the request could be forwarded', skipped } }
      : { status: 204 };

  app.post('/v1/readings', async (request, reply) => {
    deps.metrics.inputs.inc({ source: 'http', mapping: 'json' });
    const text = typeof request.body === 'string' ? request.body : '';
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      deps.intake.skip({ reason: 'not_json' }, 'http json');
      return reply.code(400).send({ error: 'the body is not JSON' });
    }
    if (parseJsonObject(text) === undefined && !Array.isArray(body)) {
      deps.intake.skip({ reason: 'not_json' }, 'http json');
      return reply.code(400).send({ error: 'the body is not a JSON object or array' });
    }
    const result = await deps.intake.take(readJsonReadings(body, deps.devicePrefix), 'http json');
    const { status, body: out } = answer(result.accepted, result.skipped);
    return reply.code(status).send(out);
  });

  const lineProtocol =
    (defaultPrecision: string) =>
    async (request: { body: unknown; query: unknown }, reply: { code(n: number): { send(b?: unknown): unknown } }) => {
      deps.metrics.inputs.inc({ source: 'http', mapping: 'line-protocol' });
      const precision = (request.query as { precision?: unknown }).precision;
      const chosen = typeof precision === 'string' ? precision : defaultPrecision;
      if (!isPrecision(chosen)) return reply.code(400).send({ error: `unknown precision ${JSON.stringify(chosen)}` });
      const text = typeof request.body === 'string' ? request.body : '';
      const result = await deps.intake.take(readLineProtocol(text, chosen, deps.devicePrefix), 'http line protocol');
      const { status, body } = answer(result.accepted, result.skipped);
      return reply.code(status).send(body);
    };
  app.post('/write', lineProtocol('n'));
  app.post('/api/v2/write', lineProtocol('ns'));

  app.get('/metrics', async (_request, reply) =>
    reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
  );
  // Healthy only while MQTT input can arrive: subscribed on the local broker, or no local broker configured.
  app.get('/healthz', async (_request, reply) => {
    const health = deps.health();
    const ok = health.mqtt === 'subscribed' || health.mqtt === 'off';
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', ...health });
  });
  return app;
}
