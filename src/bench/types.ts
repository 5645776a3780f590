/** One line of `npm run bench`: a measurement, optionally beside a baseline measured in the same run. */
export interface BenchRow {
  suite: string;
  metric: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  ratio?: number;
  target?: string;
  met?: boolean;
}
