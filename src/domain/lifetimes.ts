// How long Gatehouse's mailed links live. The services that issue them and the mails that describe
// them read these, so a mail never promises a lifetime the link does not have.
export const PASSWORD_RESET_TTL_SECONDS = 30 * 60;
export const EMAIL_VERIFICATION_TTL_SECONDS = 24 * 3600;
export const INVITATION_TTL_SECONDS = 7 * 24 * 3600;

/** 1800 → "30 minutes", 86400 → "24 hours", 604800 → "7 days": as a mail says it. */
export function describeLifetime(seconds: number): string {
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (seconds % 86400 === 0 && seconds > 86400) return plural(seconds / 86400, 'day');
  if (seconds % 3600 === 0) return plural(seconds / 3600, 'hour');
  if (seconds % 60 === 0) return plural(seconds / 60, 'minute');
  return plural(seconds, 'second');
}
