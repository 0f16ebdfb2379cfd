import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// One direction: cli → app (app.ts, server.ts) → http → domain → db → config, with pages under http
// and shared/ under everything. A layer never imports one above it; fastify lives in http and above;
// routes reach the database only through services. Each regex is matched against the import's text.
const above = (...layers) => ({ regex: `(^|/)(${layers.join('|')})(/|\\.ts$)`, message: `Imports go one way: cli → app → http → domain → db → config. This layer must not import ${layers.join(', ')}.` });
const FASTIFY = { regex: '^(fastify|@fastify/)', message: 'fastify belongs to the HTTP layer (src/http, src/app.ts, src/server.ts).' };
const layer = (files, ...patterns) => ({
  files,
  rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] },
});

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.gatehouse/', 'coverage/', 'bench/peers/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    files: ['src/cli/**', 'tests/**', 'bench/**'],
    rules: { 'no-console': 'off' },
  },
  layer(['src/shared/**'], above('config', 'db', 'domain', 'http', 'pages', 'cli', 'app', 'server'), FASTIFY),
  layer(['src/config/**'], above('db', 'domain', 'http', 'pages', 'cli', 'app', 'server'), FASTIFY),
  layer(['src/db/**'], above('domain', 'http', 'pages', 'cli', 'app', 'server'), FASTIFY),
  layer(['src/domain/**'], above('http', 'pages', 'cli', 'app', 'server'), FASTIFY),
  layer(['src/domain/**/*.repo.ts'], above('http', 'pages', 'cli', 'app', 'server'), FASTIFY, {
    regex: '\\.service\\.ts$',
    message: 'Repositories are below services: a repository never calls one.',
  }),
  layer(['src/pages/**'], above('db', 'domain', 'http', 'cli', 'app', 'server'), FASTIFY),
  layer(['src/http/**'], above('db', 'cli', 'app', 'server'), {
    regex: '\\.repo\\.ts$',
    message: 'Routes reach the database through services, never through a repository.',
  }),
  layer(['src/app.ts', 'src/server.ts'], above('cli')),
);
