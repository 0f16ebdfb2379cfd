const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `900`, `15m`, `12h`, `30d` → seconds; anything else → null. */
export function parseDuration(raw: string): number | null {
  const match = /^(\d+)\s*([smhd]?)$/.exec(raw.trim());
  if (!match) return null;
  const [, amount, unit] = match;
  return Number(amount) * (UNIT_SECONDS[unit || 's'] ?? 1);
}
