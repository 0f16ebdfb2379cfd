// `npm run bench`: Gatehouse under load on a real PostgreSQL, beside Better Auth and the machine's own
// limits, taking turns round by round so that the machine's drift hits them all alike. Prints the
// table as Markdown and writes it to bench/results/latest.md. See bench/README.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { ms, rate } from './lib/format.js';
import { combine, type Sample } from './lib/load.js';
import { readOptions } from './lib/options.js';
import { serverVersion } from './lib/postgres.js';
import { describeMachine, render, type Row } from './lib/table.js';
import { SCENARIOS } from './scenarios/index.js';
import { defaultSummary, type Scenario } from './scenarios/scenario.js';
import { createContext, type Context } from './setup/context.js';
import { ROOT } from './setup/gatehouse.js';

const options = readOptions();
const unknown = [...(options.only ?? [])].filter((name) => !SCENARIOS.some((s) => s.name === name));
if (unknown.length) {
  console.error(`Unknown scenario(s) in BENCH_ONLY: ${unknown.join(', ')}. Scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const selected = SCENARIOS.filter((scenario) => !options.only || options.only.has(scenario.name));

async function measure(scenario: Scenario, context: Context): Promise<Row> {
  const plan = await scenario.plan(context);
  const loads = [plan.subject, ...plan.references.map((reference) => reference.load)];
  const timing = { warmupSeconds: options.warmupSeconds, seconds: options.durationSeconds };
  const samples: Sample[][] = loads.map(() => []);
  for (let round = 0; round < options.rounds; round++) {
    for (const [i, load] of loads.entries()) {
      await context.settle();
      samples[i]!.push(await load.run(timing));
    }
  }
  const [subject, ...references] = samples.map(combine) as [Sample, ...Sample[]];
  return {
    name: scenario.name,
    title: scenario.title,
    subject,
    ratios: plan.summarise ? plan.summarise(subject, references) : defaultSummary(plan, subject, references),
    references: plan.references.map((reference, i) => ({ kind: reference.kind, label: reference.load.label, sample: references[i]! })),
  };
}

const startedAt = new Date();
const context = createContext(options);
const rows: Row[] = [];
try {
  for (const scenario of selected) {
    console.error(`▸ ${scenario.name}: ${scenario.title}`);
    const row = await measure(scenario, context);
    rows.push(row);
    console.error(`  ${rate(row.subject.rps)}/s, p50 ${ms(row.subject.p50)} ms, ${row.subject.errors} errors${row.ratios.length ? `; ${row.ratios.join('; ')}` : ''}`);
  }
} finally {
  await context.close();
}

const table = render(rows, { options, machine: describeMachine(await serverVersion(options.serverUrl)), startedAt });
console.log(table);
mkdirSync(`${ROOT}bench/results`, { recursive: true });
writeFileSync(`${ROOT}bench/results/latest.md`, table);
console.error('Written to bench/results/latest.md');
process.exit(0);
