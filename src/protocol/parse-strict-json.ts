import { TelemetryError } from '../errors.js';
import { parseWellFormedJson } from './well-formed-json.js';

export interface StrictJsonOptions {
  /** Deepest nesting of arrays and objects allowed; the top-level value is depth 1. */
  readonly maxDepth: number;
  /**
   * Whether a plain document (no escapes, no surrogates) may go through the native `JSON.parse` fast path
   * ({@link parseWellFormedJson}), which reads it identically. Default true; false always parses by hand.
   */
  readonly fastPath?: boolean;
}

/**
 * Parses I-JSON (RFC 7493): RFC 8259 JSON that also has no duplicate member
 * names (§2.3), no numbers beyond IEEE 754 double range (§2.2) and no lone
 * surrogates (§2.1). Nesting is bounded so a hostile message cannot exhaust the stack.
 *
 * JSON.parse cannot be used for signed payloads: with duplicate names it keeps
 * the last, while another parser may keep the first, so two readers of one
 * signed message could disagree about which device sent it.
 *
 * Throws ERR_PAYLOAD_MALFORMED with the offending position.
 */
export function parseStrictJson(text: string, options: StrictJsonOptions): unknown {
  if (options.fastPath !== false) {
    const value = parseWellFormedJson(text, options.maxDepth);
    if (value !== undefined) return value;
  }
  const parser = new Parser(text, options.maxDepth);
  parser.skipWhitespace();
  const value = parser.parseValue(1);
  parser.skipWhitespace();
  if (parser.pos !== text.length) parser.fail('unexpected data after the JSON value');
  return value;
}

const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Member names seen lately, by a hash of their length and end characters: a payload repeats the same few names
 * (`ts`, `values`, its metric names) in every reading, and reusing the string spares an allocation and V8 the
 * work of turning a new string into a property key. Bounded (one name per slot); holds names only, never values.
 */
const MEMBER_NAMES: (string | undefined)[] = new Array(256).fill(undefined);

/** Longest member name {@link MEMBER_NAMES} keeps (metric names have at most 64 characters). */
const MAX_CACHED_NAME = 64;

/**
 * The member name `t[from, to)` (no escapes, no surrogates, no control characters), from {@link MEMBER_NAMES}
 * when it is there.
 */
function memberNameAt(t: string, from: number, to: number): string {
  const length = to - from;
  if (length === 0 || length > MAX_CACHED_NAME) return t.slice(from, to);
  const slot = (length * 31 + t.charCodeAt(from) * 7 + t.charCodeAt(to - 1)) & 255;
  const cached = MEMBER_NAMES[slot];
  if (cached !== undefined && cached.length === length && t.startsWith(cached, from)) return cached;
  // V8 may make a longer slice a view into `t`; the cache keeps a copy of its own, so it never holds on to a payload.
  const name = JSON.parse(t.slice(from - 1, to + 1)) as string;
  MEMBER_NAMES[slot] = name;
  return name;
}

/** 10^0 to 10^22: the powers of ten a double holds exactly (each product below is exact). */
const POWERS_OF_TEN: readonly number[] = [1];
for (let k = 1; k <= 22; k++) (POWERS_OF_TEN as number[]).push((POWERS_OF_TEN[k - 1] as number) * 10);

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function skipDigits(t: string, from: number): number {
  let p = from;
  while (isDigit(t.charCodeAt(p))) p++;
  return p;
}

class Parser {
  pos = 0;

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
  ) {}

  fail(reason: string): never {
    throw new TelemetryError('ERR_PAYLOAD_MALFORMED', `payload is not valid I-JSON at offset ${this.pos}: ${reason}`);
  }

  skipWhitespace(): void {
    const t = this.text;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      // RFC 8259 §2: space, tab, line feed, carriage return
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) p++;
      else break;
    }
    this.pos = p;
  }

  parseValue(depth: number): unknown {
    const c = this.text.charCodeAt(this.pos);
    switch (c) {
      case 0x7b: // {
        return this.parseObject(depth);
      case 0x5b: // [
        return this.parseArray(depth);
      case 0x22: // "
        return this.parseString();
      case 0x74: // t
        return this.parseLiteral('true', true);
      case 0x66: // f
        return this.parseLiteral('false', false);
      case 0x6e: // n
        return this.parseLiteral('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.parseNumber();
        return this.fail(Number.isNaN(c) ? 'unexpected end of input' : 'unexpected character');
    }
  }

  private enter(depth: number): void {
    if (depth > this.maxDepth) this.fail(`nested deeper than ${this.maxDepth} levels`);
  }

  private parseObject(depth: number): Record<string, unknown> {
    this.enter(depth);
    this.pos++;
    const result: Record<string, unknown> = {};
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return result;
    }
    for (;;) {
      if (this.text.charCodeAt(this.pos) !== 0x22) this.fail('expected a member name');
      const name = this.parseString(true);
      if (Object.hasOwn(result, name)) this.fail(`duplicate member name ${JSON.stringify(name)}`);
      this.skipWhitespace();
      if (this.text.charCodeAt(this.pos) !== 0x3a) this.fail("expected ':'");
      this.pos++;
      this.skipWhitespace();
      const value = this.parseValue(depth + 1);
      // A member called __proto__ must stay an ordinary own property, never a prototype.
      if (name === '__proto__') {
        Object.defineProperty(result, name, { value, enumerable: true, writable: true, configurable: true });
      } else {
        result[name] = value;
      }
      this.skipWhitespace();
      const next = this.text.charCodeAt(this.pos);
      this.pos++;
      if (next === 0x7d) return result;
      if (next !== 0x2c) {
        this.pos--;
        this.fail("expected ',' or '}'");
      }
      this.skipWhitespace();
    }
  }

  private parseArray(depth: number): unknown[] {
    this.enter(depth);
    this.pos++;
    const result: unknown[] = [];
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return result;
    }
    for (;;) {
      result.push(this.parseValue(depth + 1));
      this.skipWhitespace();
      const next = this.text.charCodeAt(this.pos);
      this.pos++;
      if (next === 0x5d) return result;
      if (next !== 0x2c) {
        this.pos--;
        this.fail("expected ',' or ']'");
      }
      this.skipWhitespace();
    }
  }

  /** `memberName`: the string is a member name, which may come from (and goes into) {@link MEMBER_NAMES}. */
  private parseString(memberName = false): string {
    const t = this.text;
    const start = this.pos;
    let p = start + 1;
    let escaped = false;
    // Whether a surrogate code unit appears raw; most strings have none, so the lone-surrogate scan is skipped.
    let surrogate = false;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 0x22) break;
      if (Number.isNaN(c)) {
        this.pos = p;
        this.fail('unterminated string');
      }
      if (c < 0x20) {
        this.pos = p;
        this.fail('control character in string');
      }
      if (c === 0x5c) {
        escaped = true;
        p += 2;
      } else {
        if (c >= 0xd800 && c <= 0xdfff) surrogate = true;
        p++;
      }
    }
    this.pos = p + 1;
    let value: string;
    if (escaped) {
      try {
        // The scan above found the closing quote; JSON.parse decodes the escapes exactly as RFC 8259 §7 says.
        value = JSON.parse(t.slice(start, p + 1)) as string;
      } catch {
        this.pos = start;
        return this.fail('invalid escape in string');
      }
    } else if (memberName && !surrogate) {
      value = memberNameAt(t, start + 1, p);
    } else {
      value = t.slice(start + 1, p);
    }
    // A \u escape can spell a surrogate too, so escaped strings are always checked.
    if ((surrogate || escaped) && LONE_SURROGATE.test(value)) {
      this.pos = start;
      this.fail('string holds a lone surrogate');
    }
    return value;
  }

  /** RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`; scanned by hand, as the longest such prefix. */
  private parseNumber(): number {
    const t = this.text;
    const start = this.pos;
    let p = start;
    const negative = t.charCodeAt(p) === 0x2d;
    if (negative) p++;
    // The digits are also gathered into an integer `mantissa` while it stays exact (at most 15 digits).
    let mantissa = 0;
    let digits = 0;
    let c = t.charCodeAt(p);
    if (c === 0x30) {
      p++;
    } else if (c >= 0x31 && c <= 0x39) {
      while (isDigit(c)) {
        mantissa = mantissa * 10 + (c - 0x30);
        digits++;
        c = t.charCodeAt(++p);
      }
    } else {
      this.fail('invalid number');
    }
    let fractionDigits = 0;
    // A fraction or exponent counts only when digits follow, as the grammar's optional groups do.
    if (t.charCodeAt(p) === 0x2e && isDigit(t.charCodeAt(p + 1))) {
      p++;
      c = t.charCodeAt(p);
      while (isDigit(c)) {
        mantissa = mantissa * 10 + (c - 0x30);
        if (mantissa !== 0) digits++;
        fractionDigits++;
        c = t.charCodeAt(++p);
      }
    }
    c = t.charCodeAt(p);
    let exponent = false;
    if (c === 0x65 || c === 0x45) {
      let q = p + 1;
      const sign = t.charCodeAt(q);
      if (sign === 0x2b || sign === 0x2d) q++;
      if (isDigit(t.charCodeAt(q))) {
        p = skipDigits(t, q + 1);
        exponent = true;
      }
    }
    this.pos = p;
    // Fast path (Clinger): an integer below 2^53 and a power of ten up to 10^22 are both exact doubles, and one
    // IEEE division rounds correctly, so mantissa / 10^k is exactly what Number() makes of the text.
    if (!exponent && digits <= 15 && fractionDigits <= 22) {
      const magnitude = fractionDigits === 0 ? mantissa : mantissa / (POWERS_OF_TEN[fractionDigits] as number);
      return negative ? -magnitude : magnitude;
    }
    const value = Number(t.slice(start, p));
    if (!Number.isFinite(value)) {
      this.pos = start;
      this.fail('number out of range');
    }
    return value;
  }

  private parseLiteral<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail('unexpected character');
    this.pos += word.length;
    return value;
  }
}
