// What a scenario is: Gatehouse doing one thing under load, and the references it is measured against.
import { rate, ratio } from '../lib/format.ts';
import type { Load, Sample } from '../lib/load.ts';
import type { Context } from '../setup/context.ts';

export type ReferenceKind = 'Better Auth' | 'machine' | 'Gatehouse';

export interface Reference {
  kind: ReferenceKind;
  load: Load;
  /** How the ratio names it ("argon2id verify, 4 in flight"); without it the reference is measured, not compared. */
  compare?: string;
}

export interface Plan {
  /** Gatehouse's load; its figures make the scenario's row. */
  subject: Load;
  references: Reference[];
  /** The ratios to show; by default the subject's rate over each compared reference's. */
  summarise?: (subject: Sample, references: Sample[]) => string[];
}

export interface Scenario {
  /** For BENCH_ONLY. */
  name: string;
  title: string;
  /**
   * With BENCH_BASELINE, planned a second time in the baseline's context, whose subject load then
   * runs as one more reference: the other build doing the same. Only for scenarios whose subject
   * needs nothing but `small()`.
   */
  comparesBuilds?: boolean;
  plan(context: Context): Promise<Plan>;
}

export function defaultSummary(plan: Plan, subject: Sample, references: Sample[]): string[] {
  return plan.references.flatMap((reference, i) => {
    const sample = references[i]!;
    return reference.compare ? [`${ratio(subject.rps, sample.rps)} ${reference.compare} (${rate(sample.rps)}/s)`] : [];
  });
}

/** Hands out the items in turn, one per request, across every connection. */
export function roundRobin<T>(items: readonly T[]): () => T {
  if (items.length === 0) throw new Error('Nothing to hand out');
  let next = 0;
  return () => items[next++ % items.length]!;
}
