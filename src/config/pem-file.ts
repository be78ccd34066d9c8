/**
 * Reads a PEM file named by a configuration variable. loadConfig stays pure (it only records the path); the
 * clients call this when they build a connection, so a missing or unreadable file is still reported as the
 * variable's problem, with the variable, the path and what is expected, rather than as a bare ENOENT.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors/errors.js';
import type { VariableName } from './variables.js';

export function readPemFile(variable: VariableName, path: string): string {
  const expected = 'expected a readable PEM file (-----BEGIN …-----)';
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | null)?.code ?? 'unreadable';
    throw new ConfigError([`${variable}=${JSON.stringify(path)} cannot be read (${code}): ${expected}`]);
  }
  // A DER file or a keystore would otherwise surface much later as an opaque TLS handshake error.
  if (!text.includes('-----BEGIN ')) {
    throw new ConfigError([`${variable}=${JSON.stringify(path)} is not a PEM file: ${expected}`]);
  }
  return text;
}
