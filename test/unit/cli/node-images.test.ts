import { describe, expect, it } from 'vitest';
import { parseImageList } from '../../../src/cli/sandbox/node-images.js';

describe("a real node's image list (ctr images ls)", () => {
  it('GIVEN the table ctr prints THEN each reference maps to its manifest digest, so a rebuilt tag is told apart', () => {
    const out = [
      'REF                                  TYPE                                       DIGEST                                                                  SIZE     PLATFORMS   LABELS',
      'ghcr.io/kosmos-io/kosmos-ts:0.1.0    application/vnd.oci.image.manifest.v1+json sha256:cf0e4471ea2478106b12d798f47867975bbbbf3a3484ac4048d72dc00e9de2e9 84.1 MiB linux/amd64 io.cri-containerd.image=managed',
      'kosmos.local/pause:3.10              application/vnd.oci.image.manifest.v1+json sha256:1111111111111111111111111111111111111111111111111111111111111111 300 KiB  linux/amd64 -',
      '',
    ].join('\n');
    expect(parseImageList(out)).toEqual(
      new Map([
        [
          'ghcr.io/kosmos-io/kosmos-ts:0.1.0',
          'sha256:cf0e4471ea2478106b12d798f47867975bbbbf3a3484ac4048d72dc00e9de2e9',
        ],
        [
          'kosmos.local/pause:3.10',
          'sha256:1111111111111111111111111111111111111111111111111111111111111111',
        ],
      ]),
    );
  });

  it('GIVEN an empty containerd THEN it holds nothing (the header is not an image)', () => {
    expect(parseImageList('REF TYPE DIGEST SIZE PLATFORMS LABELS\n')).toEqual(new Map());
    expect(parseImageList('')).toEqual(new Map());
  });
});
