/** A numbered migration: plain SQL statements, run in order inside one transaction. */
export interface Migration {
  readonly name: string;
  readonly statements: readonly string[];
}
