/** A JSON path as the generic rule takes it: `$`, then `.member` or `[index]` steps (`$.env.readings[0]`). */
export type JsonPath = readonly (string | number)[];

const STEP = /\.([A-Za-z_$][\w$:-]*)|\[(\d+)\]|\["([^"\\]+)"\]/y;

/** The steps of `path`, or undefined when it is not a path of that form. */
export function parseJsonPath(path: string): JsonPath | undefined {
  if (!path.startsWith('$')) return undefined;
  const steps: (string | number)[] = [];
  STEP.lastIndex = 1;
  while (STEP.lastIndex < path.length) {
    const start = STEP.lastIndex;
    const match = STEP.exec(path);
    if (match === null || match.index !== start) return undefined;
    const [, member, index, quoted] = match;
    steps.push(index === undefined ? (member ?? quoted ?? '') : Number(index));
  }
  return steps;
}

/** The value at `path` in `value`, or undefined when there is none. */
export function readJsonPath(value: unknown, path: JsonPath): unknown {
  let here = value;
  for (const step of path) {
    if (here === null || typeof here !== 'object') return undefined;
    here = (here as Record<string | number, unknown>)[step];
  }
  return here;
}
