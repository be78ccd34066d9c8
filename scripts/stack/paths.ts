import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root: the nearest folder above this file with a package.json named eos-rollup. */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string };
      if (parsed.name === 'eos-rollup') return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the eos-rollup repository above ${__dirname}`);
    dir = parent;
  }
}

export interface StackVersions {
  kafka: string;
  apicurio: string;
}

/** Versions live in stack/pom.xml only, so Maven and the scripts cannot disagree. */
export function stackVersions(root = repoRoot()): StackVersions {
  const pom = readFileSync(join(root, 'stack', 'pom.xml'), 'utf8');
  const read = (property: string): string => {
    const match = new RegExp(`<${property}>([^<]+)</${property}>`).exec(pom);
    if (!match?.[1]) throw new Error(`stack/pom.xml has no <${property}>`);
    return match[1];
  };
  return { kafka: read('kafka.version'), apicurio: read('apicurio.version') };
}

export interface StackPaths {
  root: string;
  stackDir: string;
  envFile: string;
  stateFile: string;
  runDir: string;
  logsDir: string;
  kafkaLibs: string;
  apicurioDir: string;
}

export function stackPaths(root = repoRoot()): StackPaths {
  const versions = stackVersions(root);
  const stackDir = join(root, '.stack');
  return {
    root,
    stackDir,
    envFile: join(stackDir, 'env'),
    stateFile: join(stackDir, 'run', 'state.json'),
    runDir: join(stackDir, 'run'),
    logsDir: join(stackDir, 'last-run-logs'),
    kafkaLibs: join(stackDir, 'dist', `kafka-${versions.kafka}`, 'libs'),
    apicurioDir: join(stackDir, 'dist', `apicurio-${versions.apicurio}`),
  };
}
