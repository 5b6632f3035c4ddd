import { describe, expect, it } from 'vitest';
import { ReadScope } from '../../src/query/read-scope.js';

describe('ReadScope', () => {
  it('allows every device with read, one device with read:device, a family with read:prefix', () => {
    expect(ReadScope.fromScopes(['read']).allows('anything')).toBe(true);
    const scope = ReadScope.fromScopes(['read:device:pump-1', 'read:prefix:boiler-']);
    expect(['pump-1', 'pump-10', 'boiler-7', 'boiler', 'x'].map((d) => scope.allows(d))).toEqual([
      true,
      false,
      true,
      false,
      false,
    ]);
  });

  it('grants nothing for scope items it does not know', () => {
    expect(ReadScope.fromScopes(['write', 'read:everything']).allows('pump-1')).toBe(false);
  });

  it.each<[string[], string | undefined, (string | undefined)[]]>([
    [['read'], undefined, [undefined]],
    [['read'], 'pump', ['pump']],
    [['read:device:pump-1', 'read:prefix:boiler-'], undefined, ['boiler-', 'pump-1']],
    [['read:prefix:boiler-'], 'boiler-1', ['boiler-1']],
    [['read:prefix:boiler-1'], 'boiler-', ['boiler-1']],
    [['read:prefix:boiler-'], 'pump', []],
    [['read:device:boiler-1', 'read:prefix:boiler-'], undefined, ['boiler-']],
    [['read:device:pump-1'], 'boiler', []],
  ])('asks the store for %j with prefix %j as %j, no prefix inside another', (scopes, requested, prefixes) => {
    expect(ReadScope.fromScopes(scopes).storePrefixes(requested)).toEqual(prefixes);
  });

  it.each<[string[], string, string | undefined]>([
    [['read'], 'pump-', 'pump-'],
    [['read'], '', ''],
    [['read:prefix:boiler-'], 'boiler-1', 'boiler-1'],
    [['read:prefix:boiler-'], 'b', 'boiler-'],
    [['read:prefix:boiler-', 'read:device:boiler-9'], 'boiler-', 'boiler-'],
    [['read:prefix:boiler-', 'read:prefix:pump-'], '', undefined],
    [['read:device:pump-1'], 'pump-', undefined],
    [['read:prefix:boiler-'], 'pump', undefined],
  ])(
    'with %j, asks by prefix %j as the one prefix %j (undefined: look the devices up)',
    (scopes, requested, covering) => {
      expect(ReadScope.fromScopes(scopes).coveringPrefix(requested)).toBe(covering);
    },
  );
});
