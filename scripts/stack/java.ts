import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A java executable and its feature version (17, 21, 25…). */
export interface JavaRuntime {
  bin: string;
  feature: number;
}

function featureFromReleaseFile(home: string): number | undefined {
  const release = join(home, 'release');
  if (!existsSync(release)) return undefined;
  const match = /JAVA_VERSION="(\d+)/.exec(readFileSync(release, 'utf8'));
  return match?.[1] ? Number(match[1]) : undefined;
}

function featureFromBinary(bin: string): number | undefined {
  try {
    const out = execFileSync(bin, ['-version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return parseVersion(out);
  } catch (error) {
    // `java -version` prints to stderr; execFileSync only returns stdout, so read it from the error or rerun.
    const stderr = (error as { stderr?: string }).stderr;
    return stderr ? parseVersion(stderr) : undefined;
  }
}

function parseVersion(text: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (!match?.[1]) return undefined;
  const major = Number(match[1]);
  return major === 1 && match[2] ? Number(match[2]) : major;
}

function runtimeAt(home: string): JavaRuntime | undefined {
  const bin = join(home, 'bin', 'java');
  if (!existsSync(bin)) return undefined;
  const feature = featureFromReleaseFile(home) ?? featureFromBinary(bin);
  return feature === undefined ? undefined : { bin, feature };
}

function javaOnPath(): JavaRuntime | undefined {
  try {
    const result = execFileSync('java', ['-version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const feature = parseVersion(result);
    if (feature !== undefined) return { bin: 'java', feature };
  } catch {
    // fall through to stderr probing below
  }
  try {
    const feature = featureFromBinary('java');
    return feature === undefined ? undefined : { bin: 'java', feature };
  } catch {
    return undefined;
  }
}

/**
 * Finds a Java runtime of at least `minFeature`, preferring what the user pointed at:
 * an explicit home variable, then JAVA_HOME, then `java` on PATH, then the JDKs installed side by side
 * under /usr/lib/jvm (Debian's layout), newest first.
 */
export function findJava(minFeature: number, explicitHomeVariable?: string): JavaRuntime {
  const candidates: (JavaRuntime | undefined)[] = [];
  const explicit = explicitHomeVariable ? process.env[explicitHomeVariable] : undefined;
  if (explicit) candidates.push(runtimeAt(explicit));
  if (process.env.JAVA_HOME) candidates.push(runtimeAt(process.env.JAVA_HOME));
  candidates.push(javaOnPath());
  const jvmDir = '/usr/lib/jvm';
  if (existsSync(jvmDir)) {
    const installed = readdirSync(jvmDir)
      .map((name) => runtimeAt(join(jvmDir, name)))
      .filter((runtime): runtime is JavaRuntime => runtime !== undefined)
      .sort((a, b) => b.feature - a.feature);
    candidates.push(...installed);
  }
  const found = candidates.find((runtime) => runtime !== undefined && runtime.feature >= minFeature);
  if (!found) {
    const seen = candidates
      .filter((c): c is JavaRuntime => c !== undefined)
      .map((c) => `${c.bin} (${c.feature})`);
    const hint = explicitHomeVariable ? ` or set ${explicitHomeVariable}` : '';
    throw new Error(
      `no Java ${minFeature}+ found (saw: ${seen.join(', ') || 'none'}); install one${hint} or set JAVA_HOME`,
    );
  }
  return found;
}
