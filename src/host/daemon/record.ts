// What a VmRecord must be before the inventory writes it or believes a file holding one:
// every field typed, the spec valid, names and ids usable as they are (an id is a file
// name under the state directory, so it is held to a UUID's shape).

import { parseVmSpec, SpecError, VM_SPEC_SCHEMA, type VmSpec } from '../../vmm/spec.js';
import type { VmRecord } from './model.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// The spec's own patterns, so a record's name and labels obey what its spec's would.
const NAME = new RegExp(VM_SPEC_SCHEMA.properties.name.pattern);
const LABEL = new RegExp(VM_SPEC_SCHEMA.properties.labels.propertyNames.pattern);

const FIELDS = new Set(['id', 'name', 'spec', 'owner', 'labels', 'created', 'lastActive', 'ttlSeconds', 'removeOnExpiry', 'template', 'clonedFrom']);

/** A time as Date.toISOString writes it (so times compare as strings, too). */
function isTime(v: unknown): boolean {
  return typeof v === 'string' && !Number.isNaN(Date.parse(v)) && new Date(v).toISOString() === v;
}

/**
 * Checks `input` as a VmRecord: returns a copy whose spec has its defaults filled in
 * (parseVmSpec's form), or the problems, one line per bad field.
 */
export function checkRecord(input: unknown): { record: VmRecord } | { problems: string[] } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { problems: ['record: not an object'] };
  const r = input as Record<string, unknown>;
  const problems = Object.keys(r).filter((k) => !FIELDS.has(k)).map((k) => `record: unknown field '${k}'`);
  const bad = (field: string, want: string) => problems.push(`${field}: must be ${want}`);
  if (typeof r.id !== 'string' || !UUID.test(r.id)) bad('id', 'a lowercase UUID');
  if (typeof r.name !== 'string' || !NAME.test(r.name)) bad('name', `a name matching ${NAME.source}`);
  if (typeof r.owner !== 'string') bad('owner', 'a string');
  const labels = r.labels;
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)
    || Object.entries(labels).some(([k, v]) => !LABEL.test(k) || typeof v !== 'string')) {
    bad('labels', `an object of strings with keys matching ${LABEL.source}`);
  }
  if (!isTime(r.created)) bad('created', 'an ISO 8601 time (toISOString form)');
  if (r.lastActive !== undefined && !isTime(r.lastActive)) bad('lastActive', 'an ISO 8601 time (toISOString form)');
  if (r.ttlSeconds !== undefined && !(Number.isSafeInteger(r.ttlSeconds) && (r.ttlSeconds as number) > 0)) bad('ttlSeconds', 'a positive integer');
  for (const f of ['removeOnExpiry', 'template'] as const) if (r[f] !== undefined && typeof r[f] !== 'boolean') bad(f, 'a boolean');
  if (r.clonedFrom !== undefined && (typeof r.clonedFrom !== 'string' || !UUID.test(r.clonedFrom))) bad('clonedFrom', 'the id (a UUID) of a template');
  let spec: VmSpec | undefined;
  try {
    spec = parseVmSpec(r.spec);
    if (spec.name !== undefined && spec.name !== r.name) problems.push(`spec.name: '${spec.name}' is not the record's name '${String(r.name)}'`);
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    problems.push(...e.problems.map((p) => (p.startsWith('spec:') ? p : `spec.${p}`)));
  }
  if (problems.length) return { problems };
  return { record: { ...structuredClone(r), spec } as VmRecord };
}
