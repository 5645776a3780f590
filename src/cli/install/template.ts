/**
 * The placeholder language of deploy/kosmos and deploy/member: a strict subset of Helm's
 * templates, so the chart renders the very same files (through `tpl`). One form only,
 * always inside a quoted YAML string so the files stay valid YAML (prettier formats them,
 * editors check them):
 *   '{{ .Values.a.b }}'     the value at that path (a string, number or boolean)
 * Which files apply is decided by their names (see render.ts), not by template logic.
 * Anything else inside {{ }} is an error, so a template never silently drifts from what
 * Helm would render.
 */
import { KosmosError } from '../../common/errors.js';

export type TemplateValue = string | number | boolean | TemplateValues;
export interface TemplateValues {
  [key: string]: TemplateValue;
}

const VALUE = /\{\{\s*\.Values\.([A-Za-z0-9_.]+)\s*\}\}/g;

function lookup(values: TemplateValues, path: string, where: string): TemplateValue {
  let cur: TemplateValue | undefined = values;
  for (const key of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || !(key in cur))
      throw new KosmosError(`${where}: .Values.${path} is not set`);
    cur = cur[key];
  }
  return cur as TemplateValue;
}

export function renderTemplate(text: string, values: TemplateValues, name: string): string {
  return text
    .split('\n')
    .map((line, i) => {
      const where = `${name}:${i + 1}`;
      const rendered = line.replace(VALUE, (_m, path: string) => {
        const v = lookup(values, path, where);
        if (typeof v === 'object') throw new KosmosError(`${where}: .Values.${path} is a map, not a value`);
        // Inside a single-quoted YAML string a quote is written twice.
        return String(v).replaceAll("'", "''");
      });
      if (rendered.includes('{{'))
        throw new KosmosError(`${where}: unsupported template expression (only '{{ .Values.x }}')`);
      return rendered;
    })
    .join('\n');
}
