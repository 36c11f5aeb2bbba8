#!/usr/bin/env node
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from '../shared/api/openapi.js';

/**
 * `npm run client:python [-- --origin https://<app>.azurewebsites.net]`: a Python client generated
 * from the app's OpenAPI document, offline but for the npm registry (docs/producers.md). Microsoft's
 * TypeSpec tools do it in two steps: `tsp-openapi3` turns the document into TypeSpec, and the
 * `@typespec/http-client-python` emitter writes an azure-core client. The emitter's Python
 * generator (a wheel in its npm package) runs on Debian's Python with Debian's packages (Jinja2,
 * PyYAML, Black, docutils) in a venv that sees them, so nothing comes from PyPI. Writes
 * dist/clients/python/teamsnotifier; exit 2 when a Debian package is missing (it names them).
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WORK = path.join(ROOT, 'dist', 'clients');
const PYTHON = '/usr/bin/python3';
// The versions this was made with; the emitter's peers are all of one TypeSpec release.
const TOOLCHAIN: Record<string, string> = {
  '@typespec/compiler': '1.11.0',
  '@typespec/http': '1.11.0',
  '@typespec/openapi': '1.11.0',
  '@typespec/openapi3': '1.11.0',
  '@typespec/rest': '0.81.0',
  '@typespec/versioning': '0.81.0',
  '@typespec/events': '0.81.0',
  '@typespec/sse': '0.81.0',
  '@typespec/streams': '0.81.0',
  '@typespec/xml': '0.80.0',
  '@typespec/http-client-python': '0.28.3',
  '@azure-tools/typespec-azure-core': '0.66.1',
  '@azure-tools/typespec-client-generator-core': '0.66.4',
};
const DEBIAN = {
  jinja2: 'python3-jinja2',
  yaml: 'python3-yaml',
  black: 'black',
  docutils: 'python3-docutils',
  ensurepip: 'python3-venv',
};

function run(cmd: string, args: string[], cwd: string): void {
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
}

function missingDebianPackages(): string[] {
  return Object.entries(DEBIAN).flatMap(([module, pkg]) => {
    try {
      execFileSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' });
      return [];
    } catch {
      return [pkg];
    }
  });
}

function main(argv: string[]): number {
  const at = argv.indexOf('--origin');
  const origin = at >= 0 ? argv[at + 1]! : 'http://127.0.0.1:7071';
  const missing = missingDebianPackages();
  if (missing.length) {
    process.stderr.write(
      `client:python needs Debian's ${missing.join(', ')}: apt-get install ${missing.join(' ')}\n`,
    );
    return 2;
  }
  const toolchain = path.join(WORK, 'toolchain');
  mkdirSync(toolchain, { recursive: true });
  writeFileSync(path.join(WORK, 'openapi.json'), JSON.stringify(openApiDocument(origin), null, 2));
  if (!existsSync(path.join(toolchain, 'node_modules', '@typespec', 'http-client-python'))) {
    writeFileSync(
      path.join(toolchain, 'package.json'),
      JSON.stringify({ private: true, dependencies: TOOLCHAIN }),
    );
    run('npm', ['install', '--ignore-scripts', '--legacy-peer-deps', '--no-audit', '--no-fund'], toolchain);
  }
  const emitter = path.join(toolchain, 'node_modules', '@typespec', 'http-client-python');
  if (!existsSync(path.join(emitter, 'venv'))) {
    // The emitter uses <its folder>/venv when there is one; this one sees Debian's packages.
    run(PYTHON, ['-m', 'venv', '--system-site-packages', 'venv'], emitter);
    const wheel = readdirSync(path.join(emitter, 'generator', 'dist')).find((f) => f.endsWith('.whl'))!;
    run(
      'venv/bin/pip',
      ['install', '--quiet', '--no-deps', '--no-index', `generator/dist/${wheel}`],
      emitter,
    );
  }
  const bin = (name: string) => path.join(toolchain, 'node_modules', '.bin', name);
  // Inside the toolchain's folder, so the TypeSpec imports resolve from its node_modules.
  const spec = path.join(toolchain, 'spec');
  for (const dir of [spec, path.join(WORK, 'python')]) rmSync(dir, { recursive: true, force: true });
  run(bin('tsp-openapi3'), [path.join(WORK, 'openapi.json'), '--output-dir', spec], toolchain);
  const config = [
    'emit:',
    '  - "@typespec/http-client-python"',
    'options:',
    '  "@typespec/http-client-python":',
    '    emitter-output-dir: "{output-dir}/python"',
    '    package-name: teams-notifier-client',
    '    flavor: azure',
  ];
  writeFileSync(path.join(spec, 'tspconfig.yaml'), `${config.join('\n')}\n`);
  const compile = ['compile', path.join(spec, 'main.tsp'), '--config', path.join(spec, 'tspconfig.yaml')];
  run(bin('tsp'), [...compile, '--output-dir', WORK, '--warn-as-error=false'], toolchain);
  process.stdout.write(
    `client:python: ${path.relative(ROOT, path.join(WORK, 'python', 'teamsnotifier'))} (server ${origin}/api)\n`,
  );
  return 0;
}

process.exitCode = main(process.argv.slice(2));
