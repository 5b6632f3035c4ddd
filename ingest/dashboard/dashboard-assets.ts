import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One file the dashboard serves, held in memory with its validator. */
export interface DashboardAsset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
  readonly cacheControl: string;
}

/** The page's files and the uPlot files it loads, read once when the node starts. */
export interface DashboardAssets {
  /** The page's own files by name (index.html, *.js, *.css): revalidated on every load. */
  readonly page: ReadonlyMap<string, DashboardAsset>;
  /** uPlot's files by name, under a URL holding its version: cached for a year. */
  readonly vendor: ReadonlyMap<string, DashboardAsset>;
  /** The uPlot version, part of the vendor URLs. */
  readonly uplotVersion: string;
  /** The CSP hash source of the page's inline import map. */
  readonly importMapHash: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};
const PAGE_FILES = [
  'index.html',
  'dashboard.js',
  'dashboard-api.js',
  'fleet-view.js',
  'fleet-table.js',
  'chart-view.js',
  'dashboard.css',
];
const VENDOR_FILES = ['uPlot.esm.js', 'uPlot.min.css'];
/** Where the import map sits in index.html; the node fills in the uPlot URL. */
const IMPORT_MAP_PLACEHOLDER = '<!--IMPORT_MAP-->';
const UPLOT_CSS_PLACEHOLDER = '%UPLOT_CSS%';

function contentTypeOf(name: string): string {
  const type = TYPES[name.slice(name.lastIndexOf('.'))];
  if (type === undefined) throw new Error(`no content type for dashboard file ${name}`);
  return type;
}

function asset(name: string, body: Buffer, cacheControl: string): DashboardAsset {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
  return { body, contentType: contentTypeOf(name), etag, cacheControl };
}

/**
 * The page's folder: beside this module when run from source, or back in the
 * source tree when run from `dist/` (tsc copies no static files).
 */
function staticDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'static'), join(here, '../../../ingest/dashboard/static')];
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')));
  if (found === undefined) throw new Error(`dashboard files not found in ${candidates.join(' or ')}`);
  return found;
}

/** uPlot's dist folder and version, found the way Node resolves the package. */
function uplotDist(): { dir: string; version: string } {
  const main = createRequire(import.meta.url).resolve('uplot');
  const dir = dirname(main);
  const pkg = JSON.parse(readFileSync(join(dir, '..', 'package.json'), 'utf8')) as { version?: unknown };
  if (typeof pkg.version !== 'string') throw new Error('uplot/package.json has no version');
  return { dir, version: pkg.version };
}

/** Where the vendor files are served, relative to the dashboard's own URL. */
export function vendorPath(version: string): string {
  return `vendor/uplot@${version}/`;
}

/** Reads the dashboard's files once; the node serves them from memory. */
export function loadDashboardAssets(): DashboardAssets {
  const dir = staticDir();
  const uplot = uplotDist();
  const vendorUrl = vendorPath(uplot.version);
  const mapJson = JSON.stringify({ imports: { uplot: `./${vendorUrl}uPlot.esm.js` } });
  const importMap = `<script type="importmap">${mapJson}</script>`;
  // CSP Level 3: an inline script is allowed by the hash of its text.
  const importMapHash = `'sha256-${createHash('sha256').update(mapJson).digest('base64')}'`;

  const page = new Map<string, DashboardAsset>();
  for (const name of PAGE_FILES) {
    let body = readFileSync(join(dir, name));
    if (name === 'index.html') {
      const html = body.toString('utf8');
      if (!html.includes(IMPORT_MAP_PLACEHOLDER)) throw new Error('index.html lacks its import map placeholder');
      body = Buffer.from(
        html.replace(IMPORT_MAP_PLACEHOLDER, importMap).replace(UPLOT_CSS_PLACEHOLDER, `${vendorUrl}uPlot.min.css`),
      );
    }
    // The page changes with the node's version and its URLs do not: always revalidate (cheap, with the ETag).
    page.set(name, asset(name, body, 'no-cache'));
  }
  const vendor = new Map<string, DashboardAsset>();
  for (const name of VENDOR_FILES) {
    // The version is in the URL, so the content behind a URL never changes.
    vendor.set(name, asset(name, readFileSync(join(uplot.dir, name)), 'public, max-age=31536000, immutable'));
  }
  return { page, vendor, uplotVersion: uplot.version, importMapHash };
}
