import { createInterface } from 'node:readline/promises';

/** Reads one line from standard input: typed at a prompt, or piped (`echo pw | gatehouse create-admin …`). */
export async function readSecret(prompt: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdin.isTTY ? process.stderr : undefined, terminal: false });
  try {
    if (process.stdin.isTTY) process.stderr.write(prompt);
    for await (const line of rl) return line;
    return '';
  } finally {
    rl.close();
  }
}
