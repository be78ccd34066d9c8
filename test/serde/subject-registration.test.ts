/**
 * Output schema registration when replicas race: a conflict is re-read and accepted when the registry now holds
 * what the stage wants, and stays a rejection (never an outage) when it holds something else.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StageError } from '../../src/errors/errors.js';
import { registerSubjectSchema, type SubjectApi } from '../../src/serde/subject-registration.js';

class HttpError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

/** A registry holding one subject; `before*` hooks let a test play the other replica between two calls. */
function fakeRegistry(initial: { level?: string; ids?: Map<string, number> } = {}) {
  const state = {
    level: initial.level,
    ids: initial.ids ?? new Map<string, number>(),
    calls: [] as string[],
  };
  const hooks: { beforeSet?: () => void; beforeRegister?: () => void } = {};
  const api: SubjectApi = {
    compatibility: () => {
      state.calls.push('get-config');
      return Promise.resolve(state.level);
    },
    setCompatibility: (_subject, level) => {
      state.calls.push('set-config');
      hooks.beforeSet?.();
      // Apicurio creates a rule once; a second create of the same rule at the same time is a 409.
      if (state.level !== undefined) return Promise.reject(new HttpError(409));
      state.level = level;
      return Promise.resolve();
    },
    register: (_subject, schema) => {
      state.calls.push('register');
      hooks.beforeRegister?.();
      if (state.ids.has(schema)) return Promise.reject(new HttpError(409));
      state.ids.set(schema, 7);
      return Promise.resolve(7);
    },
    lookup: (_subject, schema) => {
      state.calls.push('lookup');
      return Promise.resolve(state.ids.get(schema));
    },
  };
  return { api, state, hooks };
}

test('a fresh subject gets its compatibility before its first schema', async () => {
  const { api, state } = fakeRegistry();
  assert.equal(await registerSubjectSchema(api, 's-value', '{}'), 7);
  assert.deepEqual(state.calls, ['get-config', 'set-config', 'register']);
  assert.equal(state.level, 'BACKWARD');
});

test('a compatibility rule created by another replica between read and write is re-read and accepted', async () => {
  const { api, state, hooks } = fakeRegistry();
  hooks.beforeSet = () => {
    state.level = 'BACKWARD';
  };
  assert.equal(await registerSubjectSchema(api, 's-value', '{}'), 7);
  assert.deepEqual(state.calls, ['get-config', 'set-config', 'get-config', 'register']);
});

test('a conflicting rule created by somebody else in between is a rejection naming the subject', async () => {
  const { api, state, hooks } = fakeRegistry();
  hooks.beforeSet = () => {
    state.level = 'FULL';
  };
  await assert.rejects(registerSubjectSchema(api, 's-value', '{}'), (error: unknown) => {
    assert.ok(error instanceof StageError);
    assert.equal(error.kind, 'fatal');
    assert.match(error.message, /subject s-value has compatibility FULL, the stage needs BACKWARD/);
    return true;
  });
});

test('an existing subject with another compatibility is not overwritten', async () => {
  const { api, state } = fakeRegistry({ level: 'NONE' });
  await assert.rejects(registerSubjectSchema(api, 's-value', '{}'), /has compatibility NONE/);
  assert.deepEqual(state.calls, ['get-config'], 'nothing written');
});

test('a schema registered by another replica at the same time is found by lookup and its id returned', async () => {
  const { api, state, hooks } = fakeRegistry({ level: 'BACKWARD' });
  hooks.beforeRegister = () => {
    state.ids.set('{}', 7);
  };
  assert.equal(await registerSubjectSchema(api, 's-value', '{}'), 7);
  assert.deepEqual(state.calls, ['get-config', 'register', 'lookup']);
});

test('a 409 for a schema that is not registered (really incompatible) stays the original rejection', async () => {
  const { api } = fakeRegistry({ level: 'BACKWARD' });
  const incompatible = new HttpError(409);
  api.register = () => Promise.reject(incompatible);
  await assert.rejects(registerSubjectSchema(api, 's-value', '{}'), (error) => error === incompatible);
});
