import type { DeviceLink, OutgoingMessage, SendOutcome } from './device-link.js';

/**
 * Sends one message and says what became of it: the shared HTTP client, or a gateway batcher.
 * With `cut`, the request's connection is destroyed before the answer (a network fault on purpose).
 */
export type HttpSend = (jws: string, cut: boolean) => Promise<SendOutcome>;

/**
 * A device's HTTP link: no connection of its own (the fleet shares a
 * keep-alive pool); "offline" means it sends nothing.
 */
export class HttpLink implements DeviceLink {
  readonly #send: HttpSend;
  readonly #onCut: () => void;
  #open = false;
  #everConnected = false;
  #cutNext = false;

  /** `onCut` is called each time a request is actually cut. */
  constructor(send: HttpSend, onCut: () => void = () => undefined) {
    this.#send = send;
    this.#onCut = onCut;
  }

  get ready(): boolean {
    return this.#open;
  }

  get everConnected(): boolean {
    return this.#everConnected;
  }

  open(onReady: () => void): void {
    this.#open = true;
    queueMicrotask(onReady);
  }

  /** The device has no socket of its own: its next request is cut mid-way instead. */
  cut(): void {
    this.#cutNext = true;
  }

  async send(message: OutgoingMessage): Promise<SendOutcome> {
    const cut = this.#cutNext;
    this.#cutNext = false;
    if (cut) this.#onCut();
    const outcome = await this.#send(message.jws, cut);
    if (outcome.kind !== 'retry' || /^(ERR|HTTP)_/.test(outcome.code)) this.#everConnected = true;
    return outcome;
  }

  async close(): Promise<void> {
    this.#open = false;
  }
}
