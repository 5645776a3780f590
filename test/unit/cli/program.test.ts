/**
 * kosmosctl loads only the module of the command it runs (a component process does not carry
 * the others' dependencies); the table that decides it must name what each module makes.
 */
import { describe, expect, it } from 'vitest';
import { buildProgram, COMMAND_MODULES, loadCommandModule } from '../../../src/cli/program.js';

const names = (cmds: readonly { name(): string }[]) => cmds.map((c) => c.name()).sort();

describe('kosmosctl command loading', () => {
  it.each(COMMAND_MODULES.map((m) => [m.path, m]))(
    '%s makes exactly the commands the loading table names',
    async (_path, m) => {
      expect(names(await loadCommandModule(m))).toEqual([...m.commands].sort());
    },
  );

  it('a component command loads only its own module (and the sandbox)', async () => {
    expect(names((await buildProgram('mcs-dns')).commands)).toEqual(
      ['mcs-controller', 'mcs-dns', 'mcs-gen-crds', 'sandbox'].sort(),
    );
    expect(names((await buildProgram('join')).commands)).toEqual(
      ['check', 'install', 'join', 'sandbox', 'status', 'uninstall', 'unjoin'].sort(),
    );
  });

  it('help and unknown commands see every command, so help lists them all and typos are named', async () => {
    const all = COMMAND_MODULES.flatMap((m) => m.commands);
    expect(names((await buildProgram()).commands)).toEqual([...all, 'sandbox'].sort());
    expect(names((await buildProgram('instal')).commands)).toEqual([...all, 'sandbox'].sort());
  });
});
