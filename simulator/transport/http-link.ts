import type { DeviceLink, OutgoingMessage, SendOutcome } from './device-link.js';

/** Sends one message and says what became of it: the shared HTTP client, or a gateway batcher. */
export type HttpSend = (jws: string) => Promise<SendOutcome>;

/**
 * A device's HTTP link: no connection of its own (the fleet shares a
 * keep-alive pool); "offline" means it sends nothing.
 */
export class HttpLink implements DeviceLink {
  readonly #send: HttpSend;
  #open = false;
  #everConnected = false;

  constructor(send: HttpSend) {
    this.#send = send;
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

  async send(message: OutgoingMessage): Promise<SendOutcome> {
    const outcome = await this.#send(message.jws);
    if (outcome.kind !== 'retry' || /^(ERR|HTTP)_/.test(outcome.code)) this.#everConnected = true;
    return outcome;
  }

  async close(): Promise<void> {
    this.#open = false;
  }
}
