import { describe, expect, it } from 'vitest';
import { DEFAULT_SCHEDULER_NAME } from '../../../src/api/constants.js';
import { webhooksCommand } from '../../../src/cli/commands/webhooks.js';

function parseError(args: string[]): string {
  const cmd = webhooksCommand()
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  cmd.action(() => {});
  try {
    cmd.parse(args, { from: 'user' });
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}

describe('kosmosctl webhooks', () => {
  it('GIVEN no flags THEN it listens on 9443 on every address with the kosmos-scheduler name', () => {
    const cmd = webhooksCommand();
    cmd.action(() => {});
    cmd.parse([], { from: 'user' });
    expect(cmd.opts()).toMatchObject({ port: 9443, host: '0.0.0.0', schedulerName: DEFAULT_SCHEDULER_NAME });
  });

  it.each([
    [['--port', '70000'], /must be a port number from 0 to 65535/],
    [['--cert-secret', 'just-a-name'], /must be <namespace>\/<name>/],
  ])('GIVEN %j THEN it refuses with the reason', (args, reason) => {
    expect(parseError(args)).toMatch(reason);
  });
});
