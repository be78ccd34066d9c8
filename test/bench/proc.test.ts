import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  parseClockTicks,
  parseCpuInfo,
  parseProcStat,
  parseProcStatus,
  readCpuTicks,
  readMemory,
} from '../../bench/lib/proc.js';

// A real /proc/<pid>/stat line of a JVM, with a command name holding a space and a parenthesis.
const STAT =
  '4242 (java (x) y) S 1 4242 4242 0 -1 4194560 53191 0 0 0 1234 567 0 0 20 0 45 0 1234567 5183112192 120119 18446744073709551615 1 1 0 0 0 0 0 2 16800975 0 0 0 17 1 0 0 0 0 0';

void test('utime and stime are fields 14 and 15, counted after the last parenthesis of the name', () => {
  assert.deepEqual(parseProcStat(STAT), { ticks: 1234 + 567 });
});

void test('a line without the command name is rejected, not read as zeros', () => {
  assert.throws(() => parseProcStat('garbage'), /not a \/proc/);
});

void test('VmRSS and VmHWM are read in kB and returned in bytes', () => {
  const status = [
    'Name:\tjava',
    'VmPeak:\t 5061640 kB',
    'VmHWM:\t  480476 kB',
    'VmRSS:\t  470000 kB',
    '',
  ].join('\n');
  assert.deepEqual(parseProcStatus(status), { rssBytes: 470000 * 1024, peakRssBytes: 480476 * 1024 });
});

void test('a status without VmRSS (a zombie) is an error for the parser', () => {
  assert.throws(() => parseProcStatus('Name:\tjava\nState:\tZ (zombie)\n'), /VmRSS/);
});

void test('the readers see this very process, and nothing for a pid that does not exist', () => {
  const ticks = readCpuTicks(process.pid);
  assert.ok(typeof ticks === 'number' && ticks >= 0);
  const memory = readMemory(process.pid);
  assert.ok(memory && memory.rssBytes > 0 && memory.peakRssBytes >= memory.rssBytes);
  assert.equal(readCpuTicks(2 ** 22 + 1), undefined);
  assert.equal(readMemory(2 ** 22 + 1), undefined);
});

void test('clock ticks come from getconf, with the Linux default when it says nothing usable', () => {
  assert.equal(parseClockTicks('100\n'), 100);
  assert.equal(parseClockTicks('250'), 250);
  assert.equal(parseClockTicks(undefined), 100);
  assert.equal(parseClockTicks('garbage'), 100);
});

void test('cpuinfo gives the first model name and the number of processors', () => {
  const text = [
    'processor\t: 0',
    'model name\t: AMD EPYC 7B13',
    '',
    'processor\t: 1',
    'model name\t: AMD EPYC 7B13',
    '',
  ].join('\n');
  assert.deepEqual(parseCpuInfo(text), { model: 'AMD EPYC 7B13', cores: 2 });
});
