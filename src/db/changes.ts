/** True when a patch names no field to change: an UPDATE with an empty SET is not SQL, so read instead. */
export const nothingToChange = (changes: object) => Object.values(changes).every((value) => value === undefined);
