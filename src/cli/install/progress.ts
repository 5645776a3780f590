/** One-line progress on stderr, so stdout stays clean for `-o yaml` and tables. */
export type Progress = (line: string) => void;

export const stderrProgress: Progress = (line) => process.stderr.write(`${line}\n`);
export const silent: Progress = () => {};
