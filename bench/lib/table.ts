// The results as Markdown: one row per scenario with its ratios, then every reference's own figures.
import { cpus, release, totalmem } from 'node:os';
import type { BenchOptions } from './options.ts';
import type { Sample } from './load.ts';
import { ms, rate } from './format.ts';

export interface Row {
  name: string;
  title: string;
  subject: Sample;
  ratios: string[];
  references: Array<{ kind: string; label: string; sample: Sample }>;
}

const mib = (value: number | null) => (value === null ? '—' : value.toFixed(0));
const figures = (s: Sample) => `${rate(s.rps)} | ${ms(s.p50)} | ${ms(s.p99)} | ${s.errors} | ${mib(s.rssMb)}`;

export function describeMachine(postgresVersion: string): string {
  const cpu = cpus();
  return `${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Linux ${release()}; Node ${process.version}; PostgreSQL ${postgresVersion}`;
}

export interface RenderOptions {
  options: BenchOptions;
  machine: string;
  startedAt: Date;
  /** What the other build is, with BENCH_BASELINE; null without. */
  baseline: string | null;
}

export function render(rows: Row[], { options, machine, startedAt, baseline }: RenderOptions): string {
  const lines = [
    '# Gatehouse benchmark',
    '',
    `${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine}.`,
    `${options.connections} connections unless the scenario says otherwise; ${options.rounds} round(s), Gatehouse and its references taking turns, each load measured for ${options.durationSeconds} s after ${options.warmupSeconds} s of warm-up; medians of the rounds.`,
    ...(baseline ? [baseline] : []),
    '',
    '| scenario | req/s | p50 ms | p99 ms | errors | peak RSS MiB | compared with |',
    '|---|---:|---:|---:|---:|---:|---|',
    ...rows.map((row) => `| \`${row.name}\` ${row.title} | ${figures(row.subject)} | ${row.ratios.join('; ') || '—'} |`),
    '',
    '## References',
    '',
    '| scenario | reference | req/s | p50 ms | p99 ms | errors | peak RSS MiB |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...rows.flatMap((row) => row.references.map((ref) => `| \`${row.name}\` | ${ref.kind}: ${ref.label} | ${figures(ref.sample)} |`)),
  ];
  const notes = rows.flatMap((row) => [
    ...(row.subject.note ? [`- \`${row.name}\`, Gatehouse: ${row.subject.note}`] : []),
    ...row.references.filter((ref) => ref.sample.note).map((ref) => `- \`${row.name}\`, ${ref.kind}: ${ref.label}: ${ref.sample.note}`),
  ]);
  if (notes.length) lines.push('', '## Notes', '', ...notes);
  return `${lines.join('\n')}\n`;
}
