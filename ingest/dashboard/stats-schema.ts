import { type Static, Type } from '@sinclair/typebox';

const Count = Type.Number({ minimum: 0 });

/** The answer of `GET /v1/query/stats`: this node's own counters, not the fleet's. */
export const NodeStatsResponse = Type.Object({
  node: Type.Object(
    {
      id: Type.String({ description: 'A random id the node draws at start; counters restart with it.' }),
      startedAt: Type.Integer({ description: 'When this node started counting, ms since the epoch.' }),
    },
    { description: 'The node that answered. Behind a load balancer, successive answers may come from other nodes.' },
  ),
  at: Type.Integer({ description: 'When the counters were read, ms since the epoch.' }),
  readingsWritten: Type.Number({ minimum: 0, description: 'Readings this node wrote to the store since it started.' }),
  inflightReadings: Count,
  mqttConnections: Count,
  accepted: Type.Array(Type.Object({ transport: Type.String(), count: Count }), {
    description: 'Messages verified and stored, by transport.',
  }),
  rejected: Type.Array(Type.Object({ transport: Type.String(), code: Type.String(), count: Count }), {
    description: 'Messages refused, by transport and error code (docs/PROTOCOL.md §11), largest count first.',
  }),
});
export type NodeStatsResponse = Static<typeof NodeStatsResponse>;
