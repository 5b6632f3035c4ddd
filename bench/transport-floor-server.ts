/**
 * Servers that do only the transport work of ingesting a message, for the transport floor section
 * (bench/transport-floor.ts, docs/PERFORMANCE.md): they take a signed message the way the node does
 * and acknowledge it the way the node does, so the same load generator counts their answers, but
 * they neither verify, parse nor store it. What such a server costs per message is the floor any
 * Node.js ingest node pays on the machine before its own work.
 *
 *   npx tsx bench/transport-floor-server.ts --kind node-http|fastify|aedes|mqtt-packet --port 8091
 *
 * - `node-http`: plain node:http; reads the body of `POST /v1/messages` to its end and answers 200.
 * - `fastify`: bare fastify; the body as a string (application/jose, text/plain) and the same route.
 * - `aedes`: bare aedes on a node:net server; every client is accepted, every publish authorised at
 *   once, so aedes sends the PUBACK.
 * - `mqtt-packet`: a node:net server with the mqtt-packet parser (the one mqtt and aedes use; only a
 *   transitive dependency): CONNACK on CONNECT, PUBACK on QoS 1 PUBLISH, PINGRESP on PINGREQ.
 *
 * Both HTTP floors answer the node's status (200) and content type with a constant JSON body of the
 * same shape as the node's answer. Prints `transport floor <kind> listening on <url>` once it listens.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { Aedes } from 'aedes';
import fastify from 'fastify';
import { generate, type Packet, parser } from 'mqtt-packet';
import { closeServer, listenServer } from '../ingest/listen-server.js';
import {
  FLOOR_KINDS,
  type FloorKind,
  floorReadyLine,
  floorTransport,
  isFloorKind,
} from './support/transport-floor-kinds.js';

/** The HTTP floors' answer: the node's accepted answer (ingest/http/ingest-routes.ts) with constant fields. */
const ACCEPTED_BODY = JSON.stringify({ status: 'accepted', device: 'transport-floor', seq: 0, readings: 1 });
const JSON_TYPE = 'application/json; charset=utf-8';
/** The node's keep-alive timeout (ingest/build-ingest.ts), so idle connections live as long. */
const KEEP_ALIVE_MS = 72_000;

/** A running floor server: how to stop it. */
interface Running {
  close(): Promise<void>;
}

async function nodeHttp(host: string, port: number): Promise<Running> {
  const headers = { 'content-type': JSON_TYPE, 'content-length': String(Buffer.byteLength(ACCEPTED_BODY)) };
  const server = createHttpServer({ keepAliveTimeout: KEEP_ALIVE_MS }, (request, response) => {
    let bytes = 0;
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    request.on('end', () => {
      const ok = request.method === 'POST' && request.url === '/v1/messages' && bytes > 0;
      if (ok) response.writeHead(200, headers).end(ACCEPTED_BODY);
      else response.writeHead(404).end();
    });
  });
  await listenServer(server, host, port);
  return {
    close: () => {
      server.closeAllConnections();
      return closeServer(server);
    },
  };
}

async function bareFastify(host: string, port: number): Promise<Running> {
  const app = fastify({ keepAliveTimeout: KEEP_ALIVE_MS });
  app.addContentTypeParser(['application/jose', 'text/plain'], { parseAs: 'string' }, (_request, body, done) =>
    done(null, body),
  );
  app.post('/v1/messages', (_request, reply) => {
    void reply.code(200).type(JSON_TYPE).send(ACCEPTED_BODY);
  });
  await app.listen({ host, port });
  return { close: () => app.close() };
}

async function bareAedes(host: string, port: number): Promise<Running> {
  const broker = new Aedes({
    authenticate: (_client, _username, _password, callback) => callback(null, true),
    authorizePublish: (_client, _packet, callback) => callback(null),
  });
  await broker.listen();
  const server = createNetServer((socket) => broker.handle(socket));
  await listenServer(server, host, port);
  return {
    close: async () => {
      await closeServer(server);
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

async function mqttPacketOnly(host: string, port: number): Promise<Running> {
  const connack = generate({ cmd: 'connack', returnCode: 0, sessionPresent: false });
  const pingresp = generate({ cmd: 'pingresp' });
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const packets = parser({ protocolVersion: 4 });
    packets.on('error', () => socket.destroy());
    packets.on('packet', (packet: Packet) => {
      if (packet.cmd === 'publish') {
        if (packet.qos === 1 && packet.messageId !== undefined) {
          socket.write(generate({ cmd: 'puback', messageId: packet.messageId }));
        }
      } else if (packet.cmd === 'connect') socket.write(connack);
      else if (packet.cmd === 'pingreq') socket.write(pingresp);
      else if (packet.cmd === 'disconnect') socket.end();
    });
    socket.on('data', (chunk: Buffer) => {
      packets.parse(chunk);
    });
  });
  await listenServer(server, host, port);
  return {
    close: () => {
      for (const socket of sockets) socket.destroy();
      return closeServer(server);
    },
  };
}

const START: Readonly<Record<FloorKind, (host: string, port: number) => Promise<Running>>> = {
  'node-http': nodeHttp,
  fastify: bareFastify,
  aedes: bareAedes,
  'mqtt-packet': mqttPacketOnly,
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kind: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8091' },
    },
  });
  const kind = values.kind ?? '';
  if (!isFloorKind(kind)) throw new Error(`--kind must be one of ${FLOOR_KINDS.join(', ')}, not "${kind}"`);
  const running = await START[kind](values.host, Number(values.port));
  process.stdout.write(`${floorReadyLine(kind)} ${floorTransport(kind)}://${values.host}:${values.port}\n`);
  const stop = () => {
    void running.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2_000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

await main();
