/**
 * bench/results/latest.md from latest.json: ratios first, then targets, medians, latency, recovery, every round,
 * and the definitions. Pure and deterministic: the same result gives the same bytes, so the committed report only
 * changes where a figure does.
 */
import type { BenchResult, PeerResult, RecoveryResult, RoundFigures } from './types.js';

/** 1234567.8 → "1,234,568"; null → "—". */
export function formatNumber(value: number | null, decimals = 0): string {
  if (value === null || !Number.isFinite(value)) return '—';
  const fixed = Math.abs(value).toFixed(decimals);
  const [whole = '0', fraction] = fixed.split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const sign = value < 0 && Number(fixed) !== 0 ? '-' : '';
  return `${sign}${grouped}${fraction === undefined ? '' : `.${fraction}`}`;
}

function table(header: string[], align: ('l' | 'r')[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  const rule = `|${align.map((a) => (a === 'r' ? '---:' : '---')).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

const TARGET_FOR_RATIO: Record<string, string> = {
  sut_over_s1: 'SUT/S1 throughput',
  sut2t_over_s1: 'SUT-2t/S1 throughput',
  sut_over_r0: 'SUT/R0 throughput',
  sut_over_r1: 'SUT/R1 throughput',
  eos_tax_1s: 'EOS tax at 1 s commits',
};

function ratiosSection(result: BenchResult): string {
  const rows: [string, keyof BenchResult['ratios'], (v: number | null) => string][] = [
    ['SUT/S1 (eos-rollup vs Kafka Streams EOS v2, 1 s commits)', 'sut_over_s1', (v) => formatNumber(v, 2)],
    [
      'SUT-2t/S1 (eos-rollup with STREAM_THREADS=2 vs the same S1)',
      'sut2t_over_s1',
      (v) => formatNumber(v, 2),
    ],
    [
      'SUT-2t/S1-2t (two threads each: STREAM_THREADS=2, num.stream.threads=2)',
      'sut2t_over_s1_2t',
      (v) => formatNumber(v, 2),
    ],
    ['SUT/R0 (vs the raw read_committed read)', 'sut_over_r0', (v) => formatNumber(v, 2)],
    ['SUT/R1 (vs a kafkajs read plus Avro decoding)', 'sut_over_r1', (v) => formatNumber(v, 2)],
    ['SUT/K1 (vs a naive kafkajs EOS pipe)', 'sut_over_k1', (v) => formatNumber(v, 2)],
    ['EOS tax at 1 s commits', 'eos_tax_1s', (v) => (v === null ? '—' : `${formatNumber(v * 100, 1)}%`)],
  ];
  return table(
    ['ratio', 'value', 'target', 'verdict'],
    ['l', 'r', 'l', 'l'],
    rows.map(([label, key, show]) => {
      const check = result.targets.find((t) => t.name === TARGET_FOR_RATIO[key]);
      const verdict = check ? `${check.verdict}${check.margin ? ` (${check.margin})` : ''}` : '—';
      return [label, show(result.ratios[key]), check?.target ?? '—', verdict];
    }),
  );
}

function targetsSection(result: BenchResult): string {
  return table(
    ['target', 'goal', 'measured', 'verdict', 'margin'],
    ['l', 'l', 'r', 'l', 'l'],
    result.targets.map((t) => [t.name, t.target, t.value, t.verdict, t.margin]),
  );
}

function relative(value: number | null, reference: number | null): string {
  if (value === null || reference === null || reference <= 0) return '—';
  return formatNumber(value / reference, 2);
}

function commitCell(p50: number | null, p99: number | null): string {
  if (p50 === null && p99 === null) return '—';
  return `${formatNumber(p50, 0)} / ${formatNumber(p99, 0)}`;
}

function mediansSection(result: BenchResult): string {
  const sut = result.peers.find((p) => p.id === 'SUT-1s')?.median.throughputRps ?? null;
  return table(
    [
      'peer',
      'records/s',
      '÷ SUT-1s',
      'CPU µs/record',
      'CPU µs/record (whole run)',
      'peak RSS MB',
      'commit p50 / p99 ms (own measure, see Peers)',
      'start-up s',
      'zero lag s',
      'rounds ok',
    ],
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    result.peers.map((p) => [
      p.label,
      formatNumber(p.median.throughputRps),
      relative(p.median.throughputRps, sut),
      formatNumber(p.median.cpuUsPerRecord, 1),
      formatNumber(p.median.cpuUsPerRecordTotal, 1),
      formatNumber(p.median.peakRssMb),
      commitCell(p.median.commitP50Ms, p.median.commitP99Ms),
      formatNumber(p.median.startupS, 1),
      formatNumber(p.median.zeroLagS, 1),
      `${p.rounds.filter((r) => r.ok).length}/${p.rounds.length}`,
    ]),
  );
}

function latencySection(result: BenchResult): string {
  if (result.latency.length === 0) return 'Not run (`--latency-seconds 0`, or no SUT/S1 peer).';
  return table(
    [
      'peer',
      'commit interval',
      'live rate records/s',
      'seconds',
      'rollups',
      'p50 ms',
      'p99 ms',
      'max ms',
      'note',
    ],
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    result.latency.map((l) => [
      l.peer,
      `${formatNumber(l.commitIntervalMs)} ms`,
      formatNumber(l.ratePerSecond),
      formatNumber(l.seconds),
      formatNumber(l.rollups),
      formatNumber(l.p50Ms),
      formatNumber(l.p99Ms),
      formatNumber(l.maxMs),
      l.error ?? '',
    ]),
  );
}

function recoverySection(result: BenchResult): string {
  const runs = [result.recovery, result.recoveryDynamic].filter((r): r is RecoveryResult => r !== null);
  const first = runs[0];
  if (!first) return 'Not run (`--recovery-seconds 0`, or no SUT peer measured).';
  const cell = (pick: (r: RecoveryResult) => number | null) => runs.map((r) => formatNumber(pick(r), 1));
  const phases = table(
    ['phase (seconds from the SIGKILL)', ...runs.map((r) => `${r.membership} member`)],
    ['l', ...runs.map(() => 'r' as const)],
    [
      ['rejoin: the restarted stage logs `partitions assigned`', ...cell((r) => r.rejoinS)],
      ['restore: every task logs `state restored`', ...cell((r) => r.restoreS)],
      ['changelog offsets at the kill', ...runs.map((r) => formatNumber(r.changelogOffsetsAtKill))],
      ['changelog records restored', ...runs.map((r) => formatNumber(r.restoredRecords))],
      [
        'state entries loaded from the `STATE_DIR` checkpoint',
        ...runs.map((r) => (r.stateDir ? formatNumber(r.restoredFromCheckpoint) : 'no `STATE_DIR`')),
      ],
      ['first commit: committed offsets move on the broker', ...cell((r) => r.firstCommitS)],
      ['longest partition stall: the last partition moves again', ...cell((r) => r.longestPartitionStallS)],
      [
        'caught up: lag back to the steady maximum before the kill',
        ...runs.map((r) => `${formatNumber(r.caughtUpS, 1)} (≤ ${formatNumber(r.steadyLagRecords)} records)`),
      ],
      ['auditor (`eos-rollup audit --drained`)', ...runs.map((r) => `**${r.audit.verdict}**`)],
    ],
  );
  const errors = runs
    .filter((r) => r.error !== null || r.audit.verdict === 'violations')
    .map((r) => `- ${r.membership}: ${r.audit.summary}${r.error ? `; error: ${r.error}` : ''}`);
  return [
    `${first.instances} instance, 1 s commits, live load ${formatNumber(first.ratePerSecond)} records/s, session timeout ${formatNumber(first.sessionTimeoutMs / 1000, 1)} s (the stage's default). The static member restarts under the same \`INSTANCE_ID\` with \`STATIC_MEMBERSHIP=true\` and keeps its \`STATE_DIR\` (a StatefulSet pod with a volume: the killed process's last running checkpoint is there); the dynamic one restarts as a new member without one, as before static membership, and restores in full.`,
    '',
    phases,
    '',
    ...errors,
  ].join('\n');
}

function churnSection(result: BenchResult): string {
  const c = result.churn;
  if (!c) return 'Not run (`--churn-every-s 0`, or SUT-1s not measured).';
  return [
    `${c.instances} static members (SUT-1s, session timeout ${formatNumber(c.sessionTimeoutMs / 1000, 1)} s) drain the preloaded input twice, each time with a fresh group: undisturbed, then with one member SIGKILLed every ${formatNumber(c.killEveryS)} s, taking turns, and restarted at once under the same \`INSTANCE_ID\`, with its own \`STATE_DIR\` (in both drains).`,
    '',
    table(
      ['figure', 'value'],
      ['l', 'r'],
      [
        ['undisturbed, records/s', formatNumber(c.steadyRps)],
        [`with a SIGKILL every ${formatNumber(c.killEveryS)} s, records/s`, formatNumber(c.churnRps)],
        ['ratio', c.ratio === null ? '—' : `${(c.ratio * 100).toFixed(1)}%`],
        ['SIGKILLs', formatNumber(c.kills)],
        ['longest standstill of the committed offsets, s', formatNumber(c.longestStandstillS, 1)],
        ['auditor on the run with kills', `**${c.audit.verdict}**`],
      ],
    ),
    ...(c.error !== null || c.audit.verdict === 'violations'
      ? ['', `${c.audit.summary}${c.error ? `; error: ${c.error}` : ''}`]
      : []),
  ].join('\n');
}

function clusterSection(result: BenchResult): string {
  const c = result.cluster;
  if (!c) return 'Not run (`--no-cluster`, or quick mode).';
  const kind = {
    kill: 'SIGKILL',
    roll: 'controlled restart of each node in turn',
    pause: 'SIGSTOP (a pause, not a kill)',
  };
  return [
    `The cluster scenarios of the test suite (\`integration/cluster/\`), run as they are: each file starts a private three-node cluster from the same jars (replication factor 3, \`min.insync.replicas\` 2, \`broker.session.timeout.ms\` ${formatNumber(c.brokerSessionTimeoutMs)}, the stack's \`--brokers 3\` settings), the stage runs at its defaults with a task held inside its open transaction, a node is struck under load, and the auditor judges the drained run. The stall is the longest time, from the strike on, that the input's committed offsets stood still while input waited. A SIGSTOP's stall is the pause's length by design (requests already sent to the frozen node wait for it), so the target takes the kills and the roll. ${formatNumber(c.elapsedS)} s in all.`,
    '',
    table(
      ['scenario', 'strike', 'stall from the strike, s', 'auditor violations', 'test'],
      ['l', 'l', 'r', 'r', 'l'],
      c.scenarios.map((sc) => [
        sc.test,
        kind[sc.kind],
        formatNumber(sc.stallFromStrikeS, 2),
        formatNumber(sc.violations),
        sc.passed ? 'passed' : '**failed**',
      ]),
    ),
    '',
    ...c.scenarios.map((sc) => `- ${sc.test}: ${sc.detail || 'no diagnostic'}`),
    ...(c.error ? ['', `Error: ${c.error}`] : []),
  ].join('\n');
}

function roundRow(peer: PeerResult, r: RoundFigures): string[] {
  return [
    String(r.round),
    String(r.slot),
    peer.id,
    formatNumber(r.throughputRps),
    formatNumber(r.brokerRps),
    formatNumber(r.cpuUsPerRecord, 1),
    formatNumber(r.cpuUsPerRecordTotal, 1),
    formatNumber(r.peakRssMb),
    commitCell(r.commitP50Ms, r.commitP99Ms),
    formatNumber(r.commits),
    formatNumber(r.startupS, 1),
    formatNumber(r.zeroLagS, 1),
    r.error ?? '',
  ];
}

function roundsSection(result: BenchResult): string {
  const rows = result.peers
    .flatMap((peer) => peer.rounds.map((r) => ({ peer, r })))
    .sort((a, b) => a.r.round - b.r.round || a.r.slot - b.r.slot)
    .map(({ peer, r }) => roundRow(peer, r));
  return table(
    [
      'round',
      'slot',
      'peer',
      'records/s',
      'broker-sampled records/s',
      'CPU µs/rec',
      'CPU µs/rec whole',
      'peak RSS MB',
      'commit p50 / p99 ms',
      'commits',
      'start-up s',
      'zero lag s',
      'note',
    ],
    ['r', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    rows,
  );
}

function peersSection(result: BenchResult): string {
  return result.peers
    .map((p) => {
      const commit = p.commitLatencyMeaning ? ` Commit latency: ${p.commitLatencyMeaning}.` : '';
      return `- **${p.label}** (${p.id}): ${p.description}${commit}`;
    })
    .join('\n');
}

export function renderMarkdown(result: BenchResult): string {
  const m = result.machine;
  const s = result.settings;
  const w = result.workload;
  const header = [
    '# eos-rollup benchmark',
    '',
    `${result.generatedAt.slice(0, 10)}, commit \`${m.gitCommit.slice(0, 12)}\`${m.gitDirty ? ' (with uncommitted changes)' : ''}; ${m.cpuModel}, ${m.cores} cores; Kafka ${m.kafkaVersion}, Node ${m.nodeVersion}, Java ${m.javaVersion}; ${s.quick ? '**quick mode**, ' : ''}${s.rounds} round${s.rounds === 1 ? '' : 's'}, ${s.broker} broker. The cores are shared with other work, so absolute numbers drift; the ratios compare peers within one interleaved run.`,
  ].join('\n');
  const quickWarning = s.quick
    ? '\n\n> **Quick mode** is a smoke run: with 100,000 records the JVM peers (R0, S1) spend most of their run cold (class loading, JIT) and every peer’s run lasts seconds, so its ratios say the harness works, not how the peers compare. Use a full run for results.'
    : '';
  const ratioDefinitions = Object.entries(result.ratioDefinitions)
    .map(([name, text]) => `- \`${name}\`: ${text}.`)
    .join('\n');
  const sections: [string, string][] = [
    ['Ratios', ratiosSection(result)],
    ['Targets', targetsSection(result)],
    [
      `Throughput and cost, medians over ${s.rounds} round${s.rounds === 1 ? '' : 's'}`,
      mediansSection(result),
    ],
    [
      `Input-to-visible latency (1 s windows, no grace, live load at half the peer’s sustained rate${s.quick ? ', at most 5,000 records/s in quick mode' : ''})`,
      latencySection(result),
    ],
    ['Recovery after SIGKILL', recoverySection(result)],
    ['Throughput under repeated SIGKILLs', churnSection(result)],
    ['Broker kills on three brokers', clusterSection(result)],
    ['Every round', roundsSection(result)],
    ['Chart', '![throughput and latency by peer](latest.svg)'],
    ['Peers', peersSection(result)],
    [
      'Workload',
      `${formatNumber(w.records)} ServerMetric v2 records (Confluent wire format, ${formatNumber(w.avgPayloadBytes)} bytes key + value on average) keyed by ${formatNumber(s.hosts)} hosts over ${s.partitions} partitions, one record per host every ${formatNumber(s.stepMs / 1000, 1)} s of event time (${formatNumber(w.eventTimeSpanS)} s in all), so ${formatNumber(s.windowMs / 1000)} s windows with ${formatNumber(s.graceMs / 1000, 1)} s grace close steadily through the run; inventory of every host in a compacted topic. Preloaded once with one idempotent producer in ${formatNumber(w.preloadS, 1)} s (${formatNumber(w.preloadRps)} records/s). Every peer run reads it from offset 0 with a fresh group and fresh output topics; session timeout ${formatNumber(s.sessionTimeoutMs / 1000, 1)} s for all. Whole bench: ${formatNumber(result.elapsedS)} s.`,
    ],
    [
      'Definitions',
      [
        ratioDefinitions,
        '- Sustained throughput: records committed between the first broker sample that shows progress and the first sample at zero lag, over the time between the two; the group’s committed offsets and the input’s end offsets are read with the admin API every 250 ms, never from the peer’s counters. Start-up (JVM or Node start, group join, inventory load, first batch) is excluded and shown separately. R0 alone is headlined by its own fetch.nMsg.sec, since it reads the whole input in about a second; its broker-sampled figure is in the per-round table.',
        '- CPU µs/record: user + system time of the peer’s process (all threads, from /proc/<pid>/stat) over the same interval, divided by the records committed in it; "whole run" divides the process’s total CPU by all input records.',
        '- Peak RSS: the highest of VmRSS polled every 250 ms and VmHWM at the end (/proc/<pid>/status).',
        '- Medians are over the rounds that succeeded; ratios are medians over medians.',
      ].join('\n'),
    ],
  ];
  return `${[header + quickWarning, ...sections.map(([title, body]) => `## ${title}\n\n${body}`)].join('\n\n')}\n`;
}
