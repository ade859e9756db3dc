// Names of uploaded data sets: what jobs put in data.name and what the URL carries. A name is
// never a path (the directory is the set's generated id) but is kept to a plain pattern anyway,
// so it reads the same in URLs, logs and shells, and it never shadows a built-in set.
import { invalid } from '../errors.js';
import { listDatasets } from '../data/registry.js';

export const NAME_PATTERN = '^[a-z0-9][a-z0-9._-]{0,62}$';
const pattern = new RegExp(NAME_PATTERN);

export function builtinNames(): string[] {
  return listDatasets().map((d) => d.name);
}

/** Throws a 400 naming the rule a data set name breaks. */
export function checkDatasetName(name: string): void {
  if (!pattern.test(name)) {
    invalid(`name: expected 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit, got ${JSON.stringify(name.slice(0, 80))}`);
  }
  if (name.includes('..')) invalid(`name: '..' is not allowed in a data set name, got ${JSON.stringify(name)}`);
  if (builtinNames().includes(name)) invalid(`name: '${name}' is a built-in data set; choose another name`);
}
