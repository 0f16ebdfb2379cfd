// How figures are written in the table and the progress lines.

export const rate = (rps: number) => (rps >= 100 ? rps.toFixed(0) : rps.toPrecision(3));

export const ms = (value: number) => (value < 10 ? value.toFixed(1) : value.toFixed(0));

export const ratio = (subject: number, reference: number) => (reference > 0 ? `**${(subject / reference).toFixed(2)}×**` : '—');
