// Builds the merchant dashboard (packages/dashboard): `tsc` checks its types, esbuild bundles it
// (React included: the page loads nothing from anywhere else) into one minified script and one
// stylesheet in services/dashboard/kassa_dashboard/static/, committed so the Python service needs no
// Node. The service names them by content hash and compresses them (kassa_dashboard/assets.py).
// Usage: node scripts/dashboard.mjs [--check]
//   --check  builds into memory and fails when the committed files differ (`./dev gen --check`)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dir = join(root, 'packages', 'dashboard');
const out = join(root, '..', '..', 'services', 'dashboard', 'kassa_dashboard', 'static');
const check = process.argv.includes('--check');

execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')],
             { stdio: 'inherit' });
const result = await build({
  entryPoints: { dashboard: join(dir, 'src', 'main.tsx') }, outdir: out, bundle: true, minify: true, write: false,
  format: 'esm', platform: 'browser', target: 'es2020', legalComments: 'none', logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' }, jsx: 'automatic', charset: 'utf8',
});
const files = [...result.outputFiles.map((f) => [f.path, Buffer.from(f.contents)]),
               [join(out, 'favicon.svg'), readFileSync(join(dir, 'src', 'favicon.svg'))]];
let stale = 0;
for (const [path, contents] of files) {
  let current = null;
  try { current = readFileSync(path); } catch { /* not built yet */ }
  if (current && current.equals(contents)) continue;
  if (check) { console.error(`${path} is not the build of sdk/js/packages/dashboard/src: run ./dev gen`); stale++; continue; }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, contents);
}
process.exit(stale ? 1 : 0);
