/**
 * A TCP proxy between an ingest node and an external broker that reads the MQTT 5 packets going each way, so a
 * test sees what the node tells the broker: which PUBLISH it acknowledged, with which PUBACK reason code, and
 * which it left unacknowledged (and got again on its next connection).
 */
import { connect, createServer, type Socket } from 'node:net';
import { type IPublishPacket, type Packet, parser } from 'mqtt-packet';
import { listenServer } from '../../ingest/listen-server.js';

interface ProxiedPacket {
  /** The node's connection it travelled on, numbered from 1. */
  readonly connection: number;
  readonly packet: Packet;
}

export interface MqttProxy {
  /** The URL a node subscribes through. */
  readonly url: string;
  /** PUBLISH packets the broker delivered to the node. */
  readonly delivered: ProxiedPacket[];
  /** PUBACK packets the node sent the broker. */
  readonly acknowledged: ProxiedPacket[];
  /** Connections that have closed, by number. */
  readonly closed: Set<number>;
  /** The client id each connection sent in its CONNECT, by number. */
  readonly clientIds: Map<number, string>;
  close(): Promise<void>;
}

function reader(onPacket: (packet: Packet) => void) {
  const parse = parser({ protocolVersion: 5 });
  parse.on('packet', onPacket);
  parse.on('error', () => undefined);
  return (chunk: Buffer) => parse.parse(chunk);
}

export async function startMqttProxy(brokerUrl: string): Promise<MqttProxy> {
  const target = new URL(brokerUrl);
  const proxy = {
    delivered: [] as ProxiedPacket[],
    acknowledged: [] as ProxiedPacket[],
    closed: new Set<number>(),
    clientIds: new Map<number, string>(),
  };
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((node) => {
    const connection = ++connections;
    const broker = connect(Number(target.port), target.hostname);
    const fromNode = reader((packet) => {
      if (packet.cmd === 'connect') proxy.clientIds.set(connection, packet.clientId);
      if (packet.cmd === 'puback') proxy.acknowledged.push({ connection, packet });
    });
    const toNode = reader((packet) => {
      if (packet.cmd === 'publish') proxy.delivered.push({ connection, packet });
    });
    for (const socket of [node, broker]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        node.destroy();
        broker.destroy();
        proxy.closed.add(connection);
      });
    }
    node.on('data', (chunk: Buffer) => {
      fromNode(chunk);
      broker.write(chunk);
    });
    broker.on('data', (chunk: Buffer) => {
      toNode(chunk);
      node.write(chunk);
    });
  });
  const port = await listenServer(server, '127.0.0.1', 0);
  return {
    ...proxy,
    url: `mqtt://127.0.0.1:${port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * The deliveries of `payload` on the connections of client `clientId` (one node's session), in order. Other
 * clients' deliveries of the same payload are left out: every node behind the proxy that is still subscribed, in
 * a share group of its own, gets a copy of each message, and a node that outlived its test would otherwise be
 * taken for the node under test.
 */
export function deliveriesOf(
  proxy: MqttProxy,
  clientId: string,
  payload: string,
): Array<{ connection: number; packet: IPublishPacket }> {
  return proxy.delivered.flatMap(({ connection, packet }) =>
    packet.cmd === 'publish' &&
    proxy.clientIds.get(connection) === clientId &&
    Buffer.from(packet.payload).toString() === payload
      ? [{ connection, packet }]
      : [],
  );
}

/** The reason code the node acknowledged a delivery with, or undefined while it has not. */
export function pubackOf(
  proxy: MqttProxy,
  delivery: { connection: number; packet: IPublishPacket },
): number | undefined {
  const ack = proxy.acknowledged.find(
    ({ connection, packet }) =>
      connection === delivery.connection && packet.cmd === 'puback' && packet.messageId === delivery.packet.messageId,
  );
  return ack === undefined || ack.packet.cmd !== 'puback' ? undefined : (ack.packet.reasonCode ?? 0);
}
