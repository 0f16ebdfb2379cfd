/** 3 to 50 letters, digits, `.`, `_` or `-`, starting with a letter or digit; unique whatever the case. */
export const USERNAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{2,49}$';

export const isValidUsername = (username: string) => new RegExp(USERNAME_PATTERN).test(username);
