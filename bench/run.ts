// `npm run bench`: Gatehouse under load on a real PostgreSQL, beside Better Auth and the machine's own
// limits, taking turns round by round so that the machine's drift hits them all alike. Prints the
// table as Markdown and writes it to bench/results/latest.md. With BENCH_BASELINE, another build of
// Gatehouse takes its turns too, in the scenarios that compare builds. See bench/README.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { ms, rate, ratio } from './lib/format.ts';
import { combine, type Load, type Sample } from './lib/load.ts';
import { readOptions, type BenchOptions } from './lib/options.ts';
import { serverVersion } from './lib/postgres.ts';
import { describeMachine, render, type Row } from './lib/table.ts';
import { SCENARIOS } from './scenarios/index.ts';
import { defaultSummary, type Scenario } from './scenarios/scenario.ts';
import { createContexts, type Context } from './setup/context.ts';
import { describeCheckout, ROOT, startFlags } from './setup/gatehouse.ts';
import { BASELINE_DATABASE } from './setup/small.ts';

let options: BenchOptions;
try {
  options = readOptions();
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}
const unknown = [...(options.only ?? [])].filter((name) => !SCENARIOS.some((s) => s.name === name));
if (unknown.length) {
  console.error(`Unknown scenario(s) in BENCH_ONLY: ${unknown.join(', ')}. Scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const selected = SCENARIOS.filter((scenario) => !options.only || options.only.has(scenario.name));
if (options.baseline && !selected.some((scenario) => scenario.comparesBuilds)) {
  console.error(`BENCH_BASELINE is set, but none of the chosen scenarios compares builds (${SCENARIOS.filter((s) => s.comparesBuilds).map((s) => s.name).join(', ')} do)`);
}

const BEFORE = 'Gatehouse before';

/** The baseline's subject load under its own label ("Gatehouse, listing alone" → "Gatehouse before, listing alone"). */
const beforeLoad = (load: Load): Load => ({ label: load.label.startsWith('Gatehouse') ? `${BEFORE}${load.label.slice('Gatehouse'.length)}` : `${load.label} (before)`, run: (timing) => load.run(timing) });

/** Which loads run in a round, by index: the two builds swap places every round, so that neither always runs first. */
function order(count: number, beforeIndex: number | null, round: number): number[] {
  const rest = Array.from({ length: count }, (_, i) => i).filter((i) => i !== 0 && i !== beforeIndex);
  if (beforeIndex === null) return [0, ...rest];
  return [...(round % 2 ? [beforeIndex, 0] : [0, beforeIndex]), ...rest];
}

async function measure(scenario: Scenario, context: Context, baseline: Context | null): Promise<Row> {
  const plan = await scenario.plan(context);
  // The same scenario planned against the other build: only its subject load is measured.
  const before = baseline && scenario.comparesBuilds ? beforeLoad((await scenario.plan(baseline)).subject) : null;
  const loads = [plan.subject, ...plan.references.map((reference) => reference.load), ...(before ? [before] : [])];
  const beforeIndex = before ? loads.length - 1 : null;
  const timing = { warmupSeconds: options.warmupSeconds, seconds: options.durationSeconds };
  const samples: Sample[][] = loads.map(() => []);
  for (let round = 0; round < options.rounds; round++) {
    for (const i of order(loads.length, beforeIndex, round)) {
      await context.settle();
      samples[i]!.push(await loads[i]!.run(timing));
    }
  }
  const [subject, ...others] = samples.map(combine) as [Sample, ...Sample[]];
  const references = others.slice(0, plan.references.length);
  const ratios = plan.summarise ? plan.summarise(subject, references) : defaultSummary(plan, subject, references);
  const rows = plan.references.map((reference, i) => ({ kind: reference.kind, label: reference.load.label, sample: references[i]! }));
  if (before) {
    const sample = others.at(-1)!;
    ratios.push(`${ratio(subject.rps, sample.rps)} ${BEFORE} (${rate(sample.rps)}/s${sample.rssMb === null ? '' : `, ${sample.rssMb.toFixed(0)} MiB`})`);
    rows.push({ kind: 'Gatehouse', label: before.label, sample });
  }
  return { name: scenario.name, title: scenario.title, subject, ratios, references: rows };
}

/** What the table says of the baseline: its commit and command line, never its folder (a path of this machine). */
function describeBaseline(root: string): string {
  const commit = describeCheckout(root);
  return `${BEFORE} (BENCH_BASELINE): ${commit ? `commit ${commit}` : 'another checkout'}, started as \`node ${startFlags(root).join(' ')} dist/cli/main.js serve\` on a database of its own (\`${BASELINE_DATABASE}\`); this build is ${describeCheckout(ROOT) ?? 'this checkout'}.`;
}

const startedAt = new Date();
const { context, baseline } = createContexts(options);
const rows: Row[] = [];
try {
  for (const scenario of selected) {
    console.error(`▸ ${scenario.name}: ${scenario.title}`);
    const row = await measure(scenario, context, baseline);
    rows.push(row);
    console.error(`  ${rate(row.subject.rps)}/s, p50 ${ms(row.subject.p50)} ms, ${row.subject.errors} errors${row.ratios.length ? `; ${row.ratios.join('; ')}` : ''}`);
  }
} finally {
  await context.close();
}

const table = render(rows, {
  options,
  machine: describeMachine(await serverVersion(options.serverUrl)),
  startedAt,
  baseline: options.baseline && selected.some((scenario) => scenario.comparesBuilds) ? describeBaseline(options.baseline) : null,
});
console.log(table);
mkdirSync(`${ROOT}bench/results`, { recursive: true });
writeFileSync(`${ROOT}bench/results/latest.md`, table);
console.error('Written to bench/results/latest.md');
process.exit(0);
