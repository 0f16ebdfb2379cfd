// Field schemas shared by several routes, with the words a person sees when one is wrong.
import Type from 'typebox';
import { USERNAME_PATTERN } from '../../domain/accounts/username.ts';


export const Name = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S', 'x-message': '{label} is required' });
export const Email = Type.String({ minLength: 1, maxLength: 254, format: 'email' });
export const Phone = Type.String({ maxLength: 32, pattern: '^[0-9+()\\-. ]*$', 'x-message': '{label} may hold only digits, spaces and + ( ) - .' });
export const Username = Type.String({
  minLength: 3,
  maxLength: 50,
  pattern: USERNAME_PATTERN,
  'x-message': '{label} must be 3 to 50 letters, digits, dots, dashes or underscores, starting with a letter or digit',
  description: '3 to 50 characters: letters, digits, `.`, `_`, `-`; starts with a letter or digit; unique whatever the letter case',
});
