import WebSocket from 'ws';
import type { CpuProfile } from '../cpu-profile-summary.js';

/**
 * A minimal client of another node process's inspector (the DevTools protocol over a WebSocket), for
 * what a benchmark asks of the node it measures: a CPU profile of a chosen window, a full garbage
 * collection, `process.memoryUsage()`. Start the node with `--inspect=127.0.0.1:<port>`
 * (NODE_OPTIONS works), then `await NodeInspector.atPort(port)`.
 */
export class NodeInspector {
  #next = 1;
  readonly #pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString('utf8')) as { id?: number; result?: unknown; error?: unknown };
      const waiting = message.id === undefined ? undefined : this.#pending.get(message.id);
      if (waiting === undefined || message.id === undefined) return;
      this.#pending.delete(message.id);
      if (message.error === undefined) waiting.resolve(message.result);
      else waiting.reject(new Error(`inspector: ${JSON.stringify(message.error)}`));
    });
  }

  /** Connects to the first target of the inspector listening on 127.0.0.1:`port`. */
  static async atPort(port: number): Promise<NodeInspector> {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
      webSocketDebuggerUrl?: string;
    }[];
    const url = targets[0]?.webSocketDebuggerUrl;
    if (url === undefined) throw new Error(`no inspector target on port ${port}`);
    const socket = new WebSocket(url, { maxPayload: 1024 * 2 ** 20 });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new NodeInspector(socket);
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** A full, blocking garbage collection in the node. */
  async collectGarbage(): Promise<void> {
    await this.call('HeapProfiler.collectGarbage');
  }

  async memoryUsage(): Promise<NodeJS.MemoryUsage> {
    const answer = (await this.call('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    })) as { result: { value: string } };
    return JSON.parse(answer.result.value) as NodeJS.MemoryUsage;
  }

  /** Starts sampling the node's stacks every `intervalUs` microseconds. */
  async startProfiling(intervalUs = 500): Promise<void> {
    await this.call('Profiler.enable');
    await this.call('Profiler.setSamplingInterval', { interval: intervalUs });
    await this.call('Profiler.start');
  }

  /** Stops sampling; the profile is what `node --cpu-prof` would have written for that window. */
  async stopProfiling(): Promise<CpuProfile> {
    const { profile } = (await this.call('Profiler.stop')) as { profile: CpuProfile };
    return profile;
  }

  close(): void {
    this.socket.close();
  }
}
