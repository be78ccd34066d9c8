/**
 * STATE_DIR is checked at start, not at the first clean stop: a directory that cannot take a checkpoint would
 * otherwise only show as restores that never get shorter.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { ConfigError } from '../errors/errors.js';

export function checkStateDir(path: string): void {
  const problem = (why: string) =>
    new ConfigError([`STATE_DIR=${JSON.stringify(path)} ${why}: expected a writable directory`]);
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (error) {
    throw problem(`cannot be read (${(error as NodeJS.ErrnoException | null)?.code ?? 'unreadable'})`);
  }
  if (!isDirectory) throw problem('is not a directory');
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
  } catch {
    throw problem('is not writable');
  }
}
