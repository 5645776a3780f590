import { describe, expect, it } from 'vitest';
import { extenderCommand } from '../../../src/cli/commands/extender.js';

describe('kosmos extender command', () => {
  it('offers the flags the sandbox and deployments need, with the config file’s port as default', () => {
    const cmd = extenderCommand();
    const flags = cmd.options.map((o) => o.long);
    for (const f of [
      '--port',
      '--host',
      '--kubeconfig',
      '--redis-url',
      '--redis-prefix',
      '--tls-cert',
      '--tls-key',
      '--tls-generate',
    ]) {
      expect(flags).toContain(f);
    }
    expect(cmd.options.find((o) => o.long === '--port')?.defaultValue).toBe(10262);
  });

  it('rejects a port that is not a port, with a one-line reason', async () => {
    const cmd = extenderCommand()
      .exitOverride()
      .configureOutput({ writeErr: () => {} });
    await expect(cmd.parseAsync(['--port', 'http'], { from: 'user' })).rejects.toThrow(
      /must be a port number/,
    );
  });
});
