/**
 * The README's shell blocks as a reader sees them: commands in order, each with the output the README shows
 * for it, and how to tell whether a command's real output looks like that sample.
 */

/** One command of a shell block (continuation lines joined as the shell joins them) and its sample output. */
export interface ReadmeCommand {
  /** The command as written, `\`-newline continuations kept. */
  readonly text: string;
  /** The lines the README shows as its output (without a comment's `# `). */
  readonly samples: readonly string[];
}

/** A ```sh block and the section it stands in. */
export interface ReadmeBlock {
  /** The headings above it, e.g. `Simulate a fleet › A first run`. */
  readonly section: string;
  /** Its first line's number in README.md. */
  readonly line: number;
  readonly commands: readonly ReadmeCommand[];
}

/** Every fenced block's text, whatever its language, for checks that apply to all of them. */
export function fencedBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```[^\n]*\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? '');
}

/**
 * The ```sh blocks in order. A block whose lines start with `$ ` is a transcript: the other lines are output.
 * Otherwise every line is a command except comments; comment lines right after a command (no blank line
 * between) are its output, and other comments are prose.
 */
export function shellBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  const headings: string[] = [];
  for (let at = 0; at < lines.length; at++) {
    const line = lines[at] ?? '';
    const heading = /^(#{2,3}) (.+)$/.exec(line);
    if (heading?.[1] !== undefined && heading[2] !== undefined) {
      headings.length = heading[1].length - 2;
      headings.push(heading[2]);
      continue;
    }
    if (!line.startsWith('```')) continue;
    const body: string[] = [];
    const start = at + 1;
    for (at++; at < lines.length && !(lines[at] ?? '').startsWith('```'); at++) body.push(lines[at] ?? '');
    if (line.trim() !== '```sh') continue;
    blocks.push({ section: headings.join(' › '), line: start + 1, commands: commandsOf(body) });
  }
  return blocks;
}

function commandsOf(body: readonly string[]): ReadmeCommand[] {
  const transcript = body.some((line) => line.startsWith('$ '));
  const commands: { text: string; samples: string[] }[] = [];
  let current: { text: string; samples: string[] } | undefined;
  for (let at = 0; at < body.length; at++) {
    let line = body[at] ?? '';
    const isCommand = transcript ? line.startsWith('$ ') : line.trim() !== '' && !line.startsWith('#');
    if (isCommand) {
      let text = transcript ? line.slice(2) : line;
      while (line.endsWith('\\') && at + 1 < body.length) {
        line = body[++at] ?? '';
        text += `\n${line}`;
      }
      current = { text, samples: [] };
      commands.push(current);
    } else if (transcript) {
      if (line.trim() !== '' && current !== undefined) current.samples.push(line);
    } else if (line.trim() === '') {
      current = undefined;
    } else if (current !== undefined) {
      current.samples.push(line.replace(/^# ?/, ''));
    }
  }
  return commands;
}

/** A line with what varies from run to run (numbers, times, ports) made alike, and spaces collapsed. */
function shape(line: string): string {
  return line
    .replace(/\d+(\.\d+)?/g, '#')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Whether an output line looks like a sample line: the same words, whatever the numbers; `…` in the sample
 * stands for anything.
 */
function looksLike(sample: string, line: string): boolean {
  const parts = shape(sample)
    .split('…')
    .map((part) => part.trim());
  if (parts.length === 1) return shape(line) === parts[0];
  let from = 0;
  for (const part of parts) {
    if (part === '') continue;
    const found = shape(line).indexOf(part, from);
    if (found < 0) return false;
    from = found + part.length;
  }
  return true;
}

/**
 * The sample lines that the output does not show, in order: each must match a later output line than the one
 * before it. A sample line of `…` alone stands for lines left out.
 */
export function samplesMissing(samples: readonly string[], output: string): string[] {
  const lines = output.split('\n');
  const missing: string[] = [];
  let from = 0;
  for (const sample of samples) {
    if (sample.trim() === '…') continue;
    const found = lines.findIndex((line, index) => index >= from && looksLike(sample, line));
    if (found < 0) missing.push(sample);
    else from = found + 1;
  }
  return missing;
}
