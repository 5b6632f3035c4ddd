import { describe, expect, it } from 'vitest';
import { TelemetryError } from '../../src/errors.js';
import type { Reading } from '../../src/protocol/message.js';
import { escapeKey, escapeMeasurement, toLine, toLineProtocol } from '../../src/store/line-protocol.js';

describe('line protocol', () => {
  it.each([
    ['a space', 'a b', 'a\\ b'],
    ['a comma', 'a,b', 'a\\,b'],
    ['an equals sign', 'a=b', 'a\\=b'],
    ['a backslash', 'a\\b', 'a\\\\b'],
    ['a backslash before a space', 'a\\ b', 'a\\\\\\ b'],
    ['a trailing backslash', 'a\\', 'a\\\\'],
    ['double and single quotes', `a"b'c`, `a"b'c`],
    ['non-ASCII letters', 'température-ü', 'température-ü'],
  ])('escapes a tag value or field key with %s', (_case, name, escaped) => {
    expect(escapeKey(name)).toBe(escaped);
  });

  it('escapes commas, spaces and backslashes in a measurement but not equals signs', () => {
    expect(escapeMeasurement('a b,c=d\\')).toBe('a\\ b\\,c=d\\\\');
  });

  it.each([
    ['a newline', 'a\nb'],
    ['a carriage return', 'a\rb'],
    ['a tab', 'a\tb'],
    ['a NUL', 'a\u0000b'],
    ['nothing at all', ''],
  ])('rejects a name with %s as ERR_STORE_REJECTED', (_case, name) => {
    expect(() => toLine({ device: name, ts: 1, values: { temp: 1 } })).toThrow(TelemetryError);
    expect(() => toLine({ device: 'd', ts: 1, values: { [name]: 1 } })).toThrow(
      expect.objectContaining({ code: 'ERR_STORE_REJECTED' }),
    );
  });

  it('writes one line per reading with the device tag, float fields and a millisecond timestamp', () => {
    const readings: Reading[] = [
      { device: 'pump 1,x=y', ts: 1_700_000_000_123, values: { temp: 21, 'flow rate': 0.30000000000000004 } },
      { device: 'pump-2', ts: 1_700_000_000_124, values: { big: 1e21, tiny: 5e-324, neg: -1.5, zero: -0 } },
    ];
    expect(toLineProtocol(readings)).toBe(
      'telemetry,device=pump\\ 1\\,x\\=y temp=21,flow\\ rate=0.30000000000000004 1700000000123\n' +
        'telemetry,device=pump-2 big=1e+21,tiny=5e-324,neg=-1.5,zero=-0 1700000000124',
    );
  });

  it('cannot be made to inject a second line or field through a name', () => {
    const line = toLine({ device: 'd\\', ts: 5, values: { 'x\\ y=1 2\\,z': 3 } });
    expect(line).toBe('telemetry,device=d\\\\ x\\\\\\ y\\=1\\ 2\\\\\\,z=3 5');
  });

  it('rejects values that are not finite and times that are not integers', () => {
    expect(() => toLine({ device: 'd', ts: 1, values: { temp: Number.NaN } })).toThrow(TelemetryError);
    expect(() => toLine({ device: 'd', ts: 1, values: { temp: Number.POSITIVE_INFINITY } })).toThrow(TelemetryError);
    expect(() => toLine({ device: 'd', ts: 1.5, values: { temp: 1 } })).toThrow(TelemetryError);
  });

  it('refuses double quotes in names for VictoriaMetrics only', () => {
    const quoted: Reading[] = [{ device: 'a"b', ts: 1, values: { 'c"d': 1 } }];
    expect(toLineProtocol(quoted)).toBe('telemetry,device=a"b c"d=1 1');
    expect(() => toLineProtocol(quoted, 'victoriametrics')).toThrow(
      expect.objectContaining({ code: 'ERR_STORE_REJECTED' }),
    );
  });

  it('writes nothing for a reading without values', () => {
    expect(toLineProtocol([{ device: 'd', ts: 1, values: {} }])).toBe('');
  });
});
