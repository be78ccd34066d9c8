/**
 * Loaded into a stage by `node --import` (`bench:profile -- --allocations`): V8's sampling heap profiler from the
 * process's start to its exit, counting objects the collector has already freed too. The CPU profile shows the
 * collector's share, not what fed it; this shows where the garbage is allocated. Written synchronously at exit
 * (an in-process inspector session answers at once) to EOS_ROLLUP_ALLOCATION_PROFILE, in the `.heapprofile` format
 * Chrome's DevTools open, and `bench/allocations` summarizes.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

/** One sample per this many bytes allocated, on average: fine enough for sites of a few bytes per record. */
const SAMPLING_INTERVAL_BYTES = 8192;

const out = process.env.EOS_ROLLUP_ALLOCATION_PROFILE;
if (out !== undefined && out !== '') {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.startSampling', {
    samplingInterval: SAMPLING_INTERVAL_BYTES,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  process.on('exit', () => {
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (error) console.error(`allocation sampler: ${error.message}`);
      else writeFileSync(out, JSON.stringify(result.profile));
    });
  });
}
