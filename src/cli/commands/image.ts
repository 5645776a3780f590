/**
 * `kosmosctl image build [NAME...] | list | inspect FILE`: the Kosmos image and the sandbox's
 * other images, built without a container engine into OCI archives in the cache.
 */
import { Command } from 'commander';
import { buildImages, listImages, type BuiltImage } from '../image/build.js';
import { inspectImageArchive } from '../image/archive.js';
import { IMAGE_NAMES, RECIPES } from '../image/images.js';
import { printTable } from '../table.js';

const progress = (line: string) => process.stderr.write(`[image] ${line}\n`);
const mb = (n: number) => `${(n / 1e6).toFixed(1)}MB`;

function printList(): void {
  printTable(
    ['NAME', 'IMAGE', 'ARCHIVE', 'ID', 'SIZE'],
    listImages().map((i) => [
      i.name,
      i.ref,
      i.built?.archive ?? '(not built)',
      i.built?.id ?? '',
      i.built ? mb(i.built.size) : '',
    ]),
  );
}

function printBuilt(built: BuiltImage[]): void {
  printTable(
    ['NAME', 'IMAGE', 'ARCHIVE', 'ID', 'SIZE', 'BUILT'],
    built.map((b) => [b.name, b.ref, b.archive, b.id, mb(b.size), b.cached ? 'cached' : 'now']),
  );
}

export function imageCommand(): Command {
  const cmd = new Command('image').description(
    'build the Kosmos image and the sandbox images as OCI archives (no Docker)',
  );
  cmd
    .command('build')
    .description(
      `build images (all when none is named) into the cache: ${IMAGE_NAMES.map((n) => `${n} (${RECIPES[n].ref})`).join(', ')}`,
    )
    .argument('[names...]', `images to build: ${IMAGE_NAMES.join(', ')}`)
    .option('--list', 'print the images, their archives and ids instead of building', false)
    .option('--rebuild', 'build again even what is cached (e.g. for Debian security updates)', false)
    .action(async (names: string[], o: { list: boolean; rebuild: boolean }) => {
      if (o.list) return printList();
      printBuilt(await buildImages(names, { progress, rebuild: o.rebuild }));
    });
  cmd.command('list').description('print the images, their newest archives and image ids').action(printList);
  cmd
    .command('inspect')
    .description('print the names and ids of the images in an archive (docker save or OCI)')
    .argument('<file>', 'the archive')
    .action(async (file: string) => {
      const info = await inspectImageArchive(file);
      printTable(
        ['IMAGE', 'ID', 'FORMAT'],
        info.images.map((i) => [i.refs.join(',') || '(no name)', i.id, info.format]),
      );
    });
  return cmd;
}
