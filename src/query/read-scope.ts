/**
 * What an operator token lets its holder read, from its scopes (see
 * `src/identity/operator-token.ts`): `read` covers every device, `read:device:<id>`
 * one device, `read:prefix:<p>` every device whose id starts with `p`.
 * Items this version does not know grant nothing.
 *
 * @example
 * ```ts
 * const scope = ReadScope.fromScopes(['read:prefix:boiler-', 'read:device:pump-1']);
 * scope.allows('boiler-7'); // true
 * scope.allows('pump-2'); // false
 * ```
 */
export class ReadScope {
  /** Whether the scope covers every device. */
  readonly readsAll: boolean;
  readonly #devices: ReadonlySet<string>;
  readonly #prefixes: readonly string[];

  private constructor(readsAll: boolean, devices: ReadonlySet<string>, prefixes: readonly string[]) {
    this.readsAll = readsAll;
    this.#devices = devices;
    this.#prefixes = prefixes;
  }

  /** The scope that the space-separated scope items of a verified token grant. */
  static fromScopes(scopes: readonly string[]): ReadScope {
    const devices = new Set<string>();
    const prefixes: string[] = [];
    let readsAll = false;
    for (const item of scopes) {
      if (item === 'read') readsAll = true;
      else if (item.startsWith('read:device:')) devices.add(item.slice('read:device:'.length));
      else if (item.startsWith('read:prefix:')) prefixes.push(item.slice('read:prefix:'.length));
    }
    return new ReadScope(readsAll, devices, prefixes);
  }

  /** Whether the scope covers `device`. */
  allows(device: string): boolean {
    return this.readsAll || this.#devices.has(device) || this.#prefixes.some((p) => device.startsWith(p));
  }

  /**
   * The device prefixes to ask a store for, so that together they cover every
   * device that both the scope allows and `requested` (a device id prefix, or
   * undefined for all) selects; `undefined` in the list means "every device".
   * No prefix in the list starts with another, so their results never overlap;
   * results must still be filtered with {@link allows}, since a device id used
   * as a prefix also selects longer ids.
   */
  storePrefixes(requested: string | undefined): readonly (string | undefined)[] {
    if (this.readsAll) return [requested];
    const wanted = (prefix: string): string | undefined => {
      if (requested === undefined || prefix.startsWith(requested)) return prefix;
      return requested.startsWith(prefix) ? requested : undefined;
    };
    const candidates = [
      ...[...this.#devices].filter((d) => requested === undefined || d.startsWith(requested)),
      ...this.#prefixes.map(wanted).filter((p): p is string => p !== undefined),
    ];
    const unique = [...new Set(candidates)];
    return unique.filter((p) => !unique.some((other) => other !== p && p.startsWith(other))).sort();
  }

  /**
   * The one device prefix that selects exactly what the scope allows of `requested` (a prefix; `''` for every
   * device), when there is one: then a store can be asked by that prefix directly, with no list of devices looked
   * up first. Undefined when the allowed devices are not one prefix's (single devices, or several prefixes).
   *
   * @example
   * ```ts
   * ReadScope.fromScopes(['read:prefix:boiler-']).coveringPrefix('b'); // 'boiler-'
   * ReadScope.fromScopes(['read:device:pump-1']).coveringPrefix('pump-'); // undefined
   * ```
   */
  coveringPrefix(requested: string): string | undefined {
    const prefixes = this.storePrefixes(requested);
    if (prefixes.length !== 1) return undefined;
    const prefix = prefixes[0] ?? '';
    const whole = this.readsAll || this.#prefixes.some((p) => prefix.startsWith(p));
    return whole ? prefix : undefined;
  }
}
