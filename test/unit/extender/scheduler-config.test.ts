import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SCHEDULER_NAME } from '../../../src/api/constants.js';

interface Extender {
  urlPrefix: string;
  filterVerb?: string;
  prioritizeVerb?: string;
  bindVerb?: string;
  weight?: number;
  nodeCacheCapable?: boolean;
}
interface Config {
  apiVersion: string;
  kind: string;
  profiles: { schedulerName: string; plugins?: { filter?: { disabled?: { name: string }[] } } }[];
  extenders: Extender[];
}

const config = parse(
  readFileSync(new URL('../../../config/scheduler-config.yaml', import.meta.url), 'utf8'),
) as Config;

describe('config/scheduler-config.yaml', () => {
  it('is a kubescheduler.config.k8s.io/v1 KubeSchedulerConfiguration with a kosmos-scheduler profile', () => {
    expect(config.apiVersion).toBe('kubescheduler.config.k8s.io/v1');
    expect(config.kind).toBe('KubeSchedulerConfiguration');
    expect(config.profiles.map((p) => p.schedulerName)).toContain(DEFAULT_SCHEDULER_NAME);
  });

  it('points one extender at the placeholder URL with filter, prioritize and bind, node names only', () => {
    expect(config.extenders).toHaveLength(1);
    expect(config.extenders[0]).toMatchObject({
      urlPrefix: 'http://127.0.0.1:10262/',
      filterVerb: 'filter',
      prioritizeVerb: 'prioritize',
      bindVerb: 'bind',
      nodeCacheCapable: true,
    });
    // The scheduler rejects a prioritizing extender without a positive weight.
    expect(config.extenders[0]?.weight).toBeGreaterThan(0);
  });

  it('turns off the in-tree taint filter in every profile, since the extender judges taints with the leaf rule', () => {
    for (const p of config.profiles)
      expect(p.plugins?.filter?.disabled?.map((d) => d.name)).toContain('TaintToleration');
  });
});
