#!/usr/bin/env node
import { CommanderError } from 'commander';
import { describeError } from '../common/errors.js';
import { buildProgram } from './program.js';

async function main(argv: string[]): Promise<number> {
  const first = argv[2];
  const program = await buildProgram(first && !first.startsWith('-') ? first : undefined);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; commander already printed a one-line reason otherwise.
      return err.exitCode;
    }
    process.stderr.write(`error: ${describeError(err).split('\n').join('\n  ')}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv);
