import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** The repository root, as a path. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Reads a file of the repository as UTF-8. */
export function readRepoFile(path: string): string {
  return readFileSync(new URL(path, new URL('../../', import.meta.url)), 'utf8');
}

/** The part of a compose service these tests read. */
export interface ComposeService {
  readonly image?: string;
  readonly build?: unknown;
  readonly entrypoint?: readonly string[];
  readonly command?: readonly string[];
  readonly environment?: Readonly<Record<string, string>>;
  readonly ports?: readonly string[];
  readonly expose?: readonly string[];
  readonly volumes?: readonly string[];
  readonly depends_on?: Readonly<Record<string, { condition?: string }>>;
  readonly profiles?: readonly string[];
  readonly healthcheck?: { readonly test?: readonly string[] };
  readonly restart?: string;
}

export interface ComposeFile {
  readonly services: Readonly<Record<string, ComposeService>>;
  readonly volumes?: Readonly<Record<string, unknown>>;
}

const VARIABLE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/**
 * Substitutes `${NAME}`, `$NAME`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`,
 * `${NAME:+alternative}`, `${NAME+alternative}` and `$$` the way `docker compose` does
 * (https://docs.docker.com/reference/compose-file/interpolation/).
 */
export function interpolate(text: string, env: Readonly<Record<string, string | undefined>>): string {
  return text.replace(VARIABLE, (match, braced?: string, operator?: string, argument = '', bare?: string) => {
    if (match === '$$') return '$';
    const name = braced ?? bare ?? '';
    const value = env[name];
    const unset = operator?.startsWith(':') === true ? value === undefined || value === '' : value === undefined;
    switch (operator?.replace(':', '')) {
      case '-':
        return unset ? argument : (value ?? '');
      case '?':
        if (unset) throw new Error(`${name}: ${argument || 'required'}`);
        return value ?? '';
      case '+':
        return unset ? '' : argument;
      default:
        return value ?? '';
    }
  });
}

function interpolateAll(value: unknown, env: Readonly<Record<string, string | undefined>>): unknown {
  if (typeof value === 'string') return interpolate(value, env);
  if (Array.isArray(value)) return value.map((item) => interpolateAll(item, env));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateAll(item, env)]));
  }
  return value;
}

/**
 * Reads docker-compose.yml as compose sees it with no variables set: YAML merge keys (`<<: *anchor`) applied,
 * `x-` extension fields left out, and every value interpolated (so the placeholder defaults apply).
 */
export function loadCompose(env: Readonly<Record<string, string | undefined>> = {}): ComposeFile {
  const document = parse(readRepoFile('docker-compose.yml'), { merge: true }) as Record<string, unknown>;
  const withoutExtensions = Object.fromEntries(Object.entries(document).filter(([key]) => !key.startsWith('x-')));
  return interpolateAll(withoutExtensions, env) as ComposeFile;
}

/** The services that run `telemetry serve`: the ingest nodes. */
export function nodeServices(compose: ComposeFile): Array<[string, ComposeService]> {
  return Object.entries(compose.services).filter(([, service]) => service.command?.[0] === 'serve');
}

/** The value after `--name` in an argument list. */
export function option(args: readonly string[], name: string): string | undefined {
  const index = args.indexOf(`--${name}`);
  return index < 0 ? undefined : args[index + 1];
}

/** A short-syntax volume (`source:target[:mode]`), split. */
export function splitVolume(volume: string): { source: string; target: string; mode?: string } {
  const [source = '', target = '', mode] = volume.split(':');
  return mode === undefined ? { source, target } : { source, target, mode };
}

/** The repository path a service sees at `containerPath`, through its bind mounts (the deepest one first). */
export function repoPathAt(service: ComposeService | undefined, containerPath: string): string | undefined {
  const mounts = (service?.volumes?.map(splitVolume) ?? [])
    .filter((m) => m.source.startsWith('./'))
    .sort((a, b) => b.target.length - a.target.length);
  const mount = mounts.find((m) => containerPath === m.target || containerPath.startsWith(`${m.target}/`));
  return mount === undefined ? undefined : join(mount.source, containerPath.slice(mount.target.length));
}

/** A short-syntax port (`[host:]container[/protocol]`): the container port. */
export function containerPort(port: string): number {
  return Number(port.split('/')[0]?.split(':').at(-1));
}

/** The `ENV` settings of a Dockerfile's last stage, the one the image runs. */
export function dockerfileEnv(dockerfile: string): Record<string, string> {
  const stages = dockerfile.replace(/\\\n/g, ' ').split(/^FROM /m);
  const env: Record<string, string> = {};
  for (const line of (stages.at(-1) ?? '').split('\n')) {
    const match = /^ENV\s+(.*)$/.exec(line.trim());
    for (const pair of match?.[1]?.split(/\s+/) ?? []) {
      const [name = '', ...value] = pair.split('=');
      env[name] = value.join('=');
    }
  }
  return env;
}

/** One section of an HAProxy configuration: `backend ingest_http` and its directive lines. */
export interface HaproxySection {
  readonly kind: string;
  readonly name: string;
  readonly lines: readonly string[];
}

/** Splits an HAProxy configuration into its sections, comments and blank lines left out. */
export function haproxySections(config: string): HaproxySection[] {
  const sections: Array<{ kind: string; name: string; lines: string[] }> = [];
  for (const raw of config.split('\n')) {
    const line = raw.replace(/#.*$/, '').trimEnd();
    if (line.trim() === '') continue;
    if (/^\S/.test(line)) {
      const [kind = '', name = ''] = line.split(/\s+/);
      sections.push({ kind, name, lines: [] });
    } else {
      sections.at(-1)?.lines.push(line.trim().replace(/\s+/g, ' '));
    }
  }
  return sections;
}

/** A `server NAME HOST:PORT ...` line of a backend. */
export interface HaproxyServer {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

export function haproxyServers(section: HaproxySection): HaproxyServer[] {
  return section.lines
    .filter((line) => line.startsWith('server '))
    .map((line) => {
      const [, name = '', address = ''] = line.split(' ');
      const [host = '', port = ''] = address.split(':');
      return { name, host, port: Number(port) };
    });
}

/** The ports a section binds (`bind :8080`, `bind 127.0.0.1:8080`). */
export function haproxyBindPorts(section: HaproxySection): number[] {
  return section.lines
    .filter((line) => line.startsWith('bind '))
    .map((line) => Number(line.split(' ')[1]?.split(':').at(-1)));
}

/** A Mosquitto configuration as directive → values (a directive may appear more than once). */
export function mosquittoDirectives(config: string): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const raw of config.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [name = '', ...rest] = line.split(/\s+/);
    directives.set(name, [...(directives.get(name) ?? []), rest.join(' ')]);
  }
  return directives;
}
