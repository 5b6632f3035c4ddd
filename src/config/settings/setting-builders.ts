import { Type } from '@sinclair/typebox';

/** Where a setting comes from: its environment variable, and its `serve` flag. */
export interface Source {
  readonly env: string;
  readonly flag?: string;
  readonly description: string;
}

export const integer = (source: Source, def: number, minimum: number, maximum = Number.MAX_SAFE_INTEGER) =>
  Type.Integer({ ...source, default: def, minimum, maximum });
export const text = (source: Source, def: string) => Type.String({ ...source, default: def });
export const choice = <const T extends string>(source: Source, values: readonly [T, ...T[]], def: T) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    { ...source, default: def },
  );
