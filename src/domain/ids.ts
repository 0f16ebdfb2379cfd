// Ids are UUIDs. Anything else names nothing: it is answered as not found, never as invalid, so a
// probe learns nothing from the shape of its guess.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (value: string | undefined | null): value is string => typeof value === 'string' && UUID.test(value);
