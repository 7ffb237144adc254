// The daemon's inventory: what it stores survives a reopen, a kill -9 at any moment loses
// nothing written and never loads a half-written file, bad files are moved aside, names
// stay unique, one process owns a directory, and nothing is written outside the state
// directory.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { Inventory } from '../../src/host/daemon/inventory.js';
import { HostError, type VmRecord } from '../../src/host/daemon/model.js';
import { insideState, stateRoot } from '../../src/host/daemon/paths.js';
import { makeRecord } from './inventory-fixture.js';

const scratch = mkdtempSync(join(tmpdir(), 'rvisor-inventory-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const fresh = () => mkdtempSync(join(scratch, 'vms-'));

/** Opens `dir` collecting warnings instead of printing them. */
function open(dir: string, opts: { touchIntervalMs?: number } = {}) {
  const warnings: string[] = [];
  const inventory = Inventory.open(dir, { ...opts, warn: (m) => warnings.push(m) });
  return { inventory, warnings };
}

const refusal = (status: number, code: string) => (e: unknown) => e instanceof HostError && e.status === status && e.code === code;

test('state root: RVISOR_STATE, XDG_STATE_HOME (absolute only), then ~/.local/state', () => {
  assert.equal(stateRoot({ RVISOR_STATE: '/s', XDG_STATE_HOME: '/x' }), '/s');
  assert.equal(stateRoot({ XDG_STATE_HOME: '/x' }), '/x/rvisor');
  assert.equal(stateRoot({ XDG_STATE_HOME: 'relative' }), join(homedir(), '.local/state/rvisor'));
  assert.equal(stateRoot({}), join(homedir(), '.local/state/rvisor'));
});

test('add, update, touch and remove survive a reopen; records are copies', () => {
  const dir = fresh();
  const { inventory: a, warnings } = open(dir);
  const web = a.add(makeRecord('web', { labels: { tier: 'front' }, ttlSeconds: 3600, created: '2025-01-02T00:00:00.000Z' }));
  const db = a.add(makeRecord('db', { owner: 'bob', created: '2025-01-01T00:00:00.000Z' }));
  const tmp = a.add(makeRecord('scratch', { removeOnExpiry: true, ttlSeconds: 60 }));
  assert.equal(web.spec.harts, 1, 'the spec is stored with its defaults filled in');
  const renamed = a.update(web.id, (r) => ({ ...r, name: 'www', spec: { ...r.spec, name: 'www', harts: 2 }, labels: { ...r.labels, env: 'prod' } }));
  assert.deepEqual([renamed.name, renamed.spec.harts, renamed.labels], ['www', 2, { tier: 'front', env: 'prod' }]);
  assert.equal(a.byName('web'), undefined, 'the old name is free after a rename');
  assert.equal(a.get('www')?.id, web.id);
  a.touch(db.id, new Date('2025-03-01T12:00:00.000Z'));
  a.remove(tmp.id);
  assert.throws(() => a.remove(tmp.id), refusal(404, 'no_such_vm'));

  // Copies: changing what was returned changes nothing stored.
  const copy = a.get(db.id)!;
  copy.labels.x = 'y';
  copy.spec.memory = 4096;
  assert.deepEqual(a.get(db.id)!.labels, {});
  assert.equal(a.get(db.id)!.spec.memory, 64 * 2 ** 20);

  const before = a.list();
  assert.deepEqual(before.map((r) => r.name), ['db', 'www'], 'oldest first');
  assert.equal(before[0].lastActive, '2025-03-01T12:00:00.000Z');
  a.close();
  assert.throws(() => a.list(), /closed/);

  const files = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  assert.deepEqual(files, [db.id, web.id].map((id) => `${id}.json`).sort(), 'one file per VM');
  const doc = JSON.parse(readFileSync(join(dir, `${db.id}.json`), 'utf8'));
  assert.equal(doc.version, 1);
  assert.deepEqual(doc.record, before[0]);
  assert.ok(!existsSync(join(dir, '.lock')), 'close releases the lock');

  const { inventory: b } = open(dir);
  assert.deepEqual(b.list(), before);
  assert.equal(b.get(tmp.id), undefined);
  b.close();
  assert.deepEqual(warnings, []);
});

test('touch writes lastActive at most once per interval; flush and close write the rest', () => {
  const dir = fresh();
  const { inventory } = open(dir, { touchIntervalMs: 1000 });
  const r = inventory.add(makeRecord('idle'));
  const onDisk = () => JSON.parse(readFileSync(join(dir, `${r.id}.json`), 'utf8')).record.lastActive as string | undefined;
  const t0 = Date.parse('2025-05-01T00:00:00.000Z');
  const at = (ms: number) => new Date(t0 + ms).toISOString();
  inventory.touch(r.id, new Date(t0));
  assert.equal(onDisk(), at(0), 'the first activity is written at once');
  inventory.touch(r.id, new Date(t0 + 500));
  assert.equal(inventory.get(r.id)!.lastActive, at(500), 'seen at once');
  assert.equal(onDisk(), at(0), 'written later');
  inventory.touch(r.id, new Date(t0 + 200));
  assert.equal(inventory.get(r.id)!.lastActive, at(500), 'never moves back');
  inventory.touch(r.id, new Date(t0 + 1000));
  assert.equal(onDisk(), at(1000), 'written once the interval has passed');
  inventory.touch(r.id, new Date(t0 + 1100));
  inventory.flush();
  assert.equal(onDisk(), at(1100));
  inventory.touch(r.id, new Date(t0 + 1200));
  const updated = inventory.update(r.id, (v) => ({ ...v, owner: 'carol' }));
  assert.equal(updated.lastActive, at(1200), 'an update keeps (and writes) the newest activity');
  assert.equal(onDisk(), at(1200));
  inventory.touch(r.id, new Date(t0 + 1300));
  inventory.close();
  assert.equal(onDisk(), at(1300));
});

test('duplicate names and ids, and bad records, are refused and change nothing', () => {
  const dir = fresh();
  const { inventory } = open(dir);
  const a = inventory.add(makeRecord('a'));
  const b = inventory.add(makeRecord('b'));
  assert.throws(() => inventory.add(makeRecord('a')), refusal(409, 'name_taken'));
  assert.throws(() => inventory.add(makeRecord('c', { id: a.id })), refusal(409, 'vm_exists'));
  assert.throws(() => inventory.update(b.id, (r) => ({ ...r, name: 'a', spec: { ...r.spec, name: 'a' } })), refusal(409, 'name_taken'));
  assert.throws(() => inventory.update(b.id, (r) => ({ ...r, id: a.id })), refusal(422, 'bad_record'));
  assert.throws(() => inventory.update(b.id, (r) => ({ ...r, name: 'x' })), /spec\.name: 'b' is not the record's name 'x'/);
  assert.throws(() => inventory.update('0e6fbd5c-6d0e-4d4e-9c59-000000000000', (r) => r), refusal(404, 'no_such_vm'));
  const bad = { ...makeRecord('d'), id: '../../etc/x', created: 'yesterday', spec: { memory: 5 }, extra: 1 } as unknown as VmRecord;
  assert.throws(() => inventory.add(bad), (e: unknown) => {
    assert.ok(e instanceof HostError && e.status === 422);
    for (const field of ['id', 'created', 'spec.memory', "unknown field 'extra'"]) assert.ok(e.problems?.some((p) => p.includes(field)), `${field} in ${e.problems}`);
    return true;
  });
  const before = inventory.list();
  inventory.close();
  const { inventory: again } = open(dir);
  assert.deepEqual(again.list(), before);
  assert.deepEqual(before.map((r) => r.name), ['a', 'b']);
  again.close();
});

test('corrupt, foreign and duplicate definitions are quarantined with a warning; the rest load', () => {
  const dir = fresh();
  const { inventory } = open(dir);
  const good = [inventory.add(makeRecord('one')), inventory.add(makeRecord('two', { created: '2025-01-01T00:00:00.000Z' }))];
  inventory.close();
  const text = readFileSync(join(dir, `${good[0].id}.json`), 'utf8');
  const file = (r: VmRecord, version: unknown = 1) => JSON.stringify({ version, record: r });
  const bad: Record<string, string> = {};
  const put = (why: string, r: VmRecord, content: string) => { bad[why] = `${r.id}.json`; writeFileSync(join(dir, `${r.id}.json`), content); };
  const other = () => makeRecord(`x${Object.keys(bad).length}`);
  put('truncated', other(), text.slice(0, text.length / 2));
  put('empty', other(), '');
  put('version 2', other(), file(other(), 2));
  let r = other();
  put('id mismatch', other(), file(r));
  r = other();
  put('invalid spec', r, file({ ...r, spec: { ...r.spec, memory: 1000 } }));
  r = other();
  put('untyped field', r, file({ ...r, labels: { a: 1 } } as unknown as VmRecord));
  put('not an object', other(), '[1, 2]');
  // Same name as 'two', created later: the younger one goes.
  r = makeRecord('two', { created: '2025-06-01T00:00:00.000Z' });
  put('duplicate name', r, file(r));
  // What a crash leaves, what the daemon keeps beside definitions, and unrelated files.
  writeFileSync(join(dir, `.${good[0].id}.json.4242.tmp`), '{"version": 1, "rec');
  mkdirSync(join(dir, good[0].id));
  writeFileSync(join(dir, good[0].id, 'disk0.qcow2'), 'overlay');
  writeFileSync(join(dir, 'README'), 'not a definition');

  const { inventory: reopened, warnings } = open(dir);
  assert.deepEqual(reopened.list().map((v) => v.id).sort(), good.map((v) => v.id).sort());
  assert.equal(warnings.length, Object.keys(bad).length, warnings.join('\n'));
  for (const [why, name] of Object.entries(bad)) {
    assert.ok(warnings.some((w) => w.includes(name)), `a warning names the ${why} file`);
    assert.ok(existsSync(join(dir, 'quarantine', name)), `the ${why} file is in quarantine/`);
    assert.ok(!existsSync(join(dir, name)), `the ${why} file is moved, not copied`);
  }
  assert.ok(warnings.some((w) => /version 2/.test(w)) && warnings.some((w) => /is not the file's name/.test(w)) && warnings.some((w) => /spec\.memory/.test(w)));
  assert.ok(warnings.some((w) => w.includes(bad['duplicate name']) && /older VM/.test(w)));
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.')), ['.lock'], 'temporary files are swept');
  assert.equal(readFileSync(join(dir, good[0].id, 'disk0.qcow2'), 'utf8'), 'overlay', "a VM's own directory is left alone");
  assert.ok(existsSync(join(dir, 'README')));
  reopened.close();

  // A second bad file of the same name does not overwrite the first one set aside.
  writeFileSync(join(dir, bad.truncated), '{');
  const { inventory: third, warnings: more } = open(dir);
  assert.equal(more.length, 1);
  assert.equal(readFileSync(join(dir, 'quarantine', `${bad.truncated}.1`), 'utf8'), '{');
  assert.equal(readFileSync(join(dir, 'quarantine', bad.truncated), 'utf8'), text.slice(0, text.length / 2));
  assert.equal(third.list().length, 2);
  third.close();
});

test('paths outside the state directory are refused: absolute, through .., through a symlink', () => {
  const root = join(realpathSync(scratch), 'state');
  const outside = mkdtempSync(join(scratch, 'outside-'));
  mkdirSync(join(root, 'vms/deep'), { recursive: true });
  symlinkSync(outside, join(root, 'vms/out'));
  symlinkSync(join(outside, 'missing'), join(root, 'vms/dangling'));
  symlinkSync(join(outside, 'x'), join(root, 'vms/deep/to-outside-dir'));
  mkdirSync(join(outside, 'x'));
  symlinkSync('deep', join(root, 'vms/in'));
  const ok = (p: string, want: string) => assert.equal(insideState(root, p), want, p);
  const refused = (p: string) => assert.throws(() => insideState(root, p), (e: unknown) => {
    assert.ok(e instanceof HostError && e.code === 'outside_state', String(e));
    assert.match(e.message, /is outside the state directory/);
    return true;
  }, p);

  ok('vms/a/disk0.qcow2', join(root, 'vms/a/disk0.qcow2'));
  ok(join(root, 'vms'), join(root, 'vms'));
  ok('vms/in/new', join(root, 'vms/deep/new'));
  ok('vms/a/../b', join(root, 'vms/b'));
  refused('/etc/passwd');
  refused('..');
  refused('vms/../../x');
  refused(`${root}/vms/../../outside`);
  refused(`${root}-sibling/x`);
  refused('vms/out/disk.qcow2');
  refused('vms/dangling');
  // The kernel takes '..' after the link: the parent of the link's target, not vms/deep.
  refused('vms/deep/to-outside-dir/../y');
  assert.throws(() => insideState(root, 'vms/out'), /resolves to/);

  // The inventory itself is opened only inside the root, and nothing is created outside.
  assert.throws(() => Inventory.open(join(outside, 'vms'), { root }), refusal(400, 'outside_state'));
  assert.throws(() => Inventory.open('vms/out/vms', { root }), refusal(400, 'outside_state'));
  assert.ok(!existsSync(join(outside, 'vms')));
  const inside = Inventory.open('vms/store', { root, warn: () => {} });
  assert.equal(inside.dir, join(root, 'vms/store'));
  inside.close();
});

test('one owner per directory: a second Inventory is refused until the first closes', () => {
  const dir = fresh();
  const { inventory: first } = open(dir);
  first.add(makeRecord('solo'));
  assert.throws(() => open(dir), /already open in this process/);
  const alias = join(scratch, `alias-${Date.now()}`);
  symlinkSync(dir, alias);
  assert.throws(() => open(alias), /already open/, 'whatever the path used');
  first.close();
  const { inventory: second } = open(dir);
  assert.equal(second.list().length, 1);
  second.close();

  // A lock holding our own pid that this process never took: from before a reboot.
  writeFileSync(join(dir, '.lock'), `${process.pid}\n`);
  const { inventory: third } = open(dir);
  assert.equal(readFileSync(join(dir, '.lock'), 'utf8'), `${process.pid}\n`);
  third.close();
});

interface Writer { pid: number; lines: string[]; exited: Promise<void>; ready: Promise<void> }

function startWriter(dir: string, tag: string, tearAt?: number): Writer {
  const args = [join(dirname(fileURLToPath(import.meta.url)), 'inventory-writer.js'), dir, tag, ...(tearAt ? [String(tearAt)] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  let onReady: () => void;
  const ready = new Promise<void>((res) => { onReady = res; });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      if (line.startsWith('ready ')) onReady();
      else lines.push(line);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  // 'close': the process is reaped (a zombie would still look alive) and stdout is drained.
  const exited = new Promise<void>((res, rej) => child.on('close', (code, signal) => {
    if (signal === 'SIGKILL') res();
    else rej(new Error(`writer exited (${code ?? signal}): ${stderr}`));
  }));
  void exited.catch(() => onReady());
  return { pid: child.pid!, lines, exited, ready };
}

test('kill -9 at random moments and mid-write: every completed change survives, no half-written file ever loads', async () => {
  const dir = fresh();
  /** What the writers reported done: id to generation. */
  const model = new Map<string, number>();
  let done = 0;
  for (let round = 0; round < 20; round++) {
    // Odd rounds: the writer kills itself halfway through a write; even: killed from here.
    const tear = round % 2 === 1;
    const w = startWriter(dir, `r${round}`, tear ? 1 + Math.floor(Math.random() * 30) : undefined);
    await Promise.race([w.ready, w.exited]);
    // While it lives, the directory is its own (a torn writer may be gone already).
    if (!tear) assert.throws(() => open(dir), new RegExp(`another rvisor daemon \\(pid ${w.pid}\\) uses`));
    await new Promise((res) => setTimeout(res, Math.random() * 150));
    if (!tear) process.kill(w.pid, 'SIGKILL');
    await w.exited;
    assert.equal(readFileSync(join(dir, '.lock'), 'utf8'), `${w.pid}\n`, 'the killed writer left its lock');
    if (tear) assert.ok(readdirSync(dir).some((n) => /^\..*\.tmp$/.test(n)), 'the torn write left a temporary file');

    let pending: [op: string, id: string] | undefined;
    for (const line of w.lines) {
      const [phase, op, id] = line.split(' ');
      if (phase === 'will') { pending = [op, id]; continue; }
      assert.deepEqual(pending, [op, id], `the writer said ${line}`);
      pending = undefined;
      done++;
      if (op === 'add') model.set(id, 0);
      else if (op === 'rm') model.delete(id);
      else model.set(id, model.get(id)! + 1);
    }

    const { inventory, warnings } = open(dir);
    assert.deepEqual(warnings, [], 'nothing corrupt was found');
    assert.ok(!existsSync(join(dir, 'quarantine')));
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.')), ['.lock'], 'no temporary file remains');
    assert.equal(readFileSync(join(dir, '.lock'), 'utf8'), `${process.pid}\n`, 'the stale lock was taken over');

    // Every change that returned is there exactly; only the one cut short may have
    // happened or not.
    const onDisk = new Map(inventory.list().map((r) => [r.id, Number(r.labels.gen)]));
    if (pending) {
      const [op, id] = pending;
      const was = model.get(id);
      const now = onDisk.get(id);
      if (op === 'add') assert.ok(now === undefined || now === 0, `add ${id}: ${now}`);
      else if (op === 'rm') assert.ok(now === undefined || now === was, `rm ${id}: ${now} (was ${was})`);
      else assert.ok(now === was || now === was! + 1, `update ${id}: ${now} (was ${was})`);
      if (now === undefined) model.delete(id);
      else model.set(id, now);
    }
    assert.deepEqual(onDisk, model);
    inventory.close();
  }
  assert.ok(done >= 20, `the writers made ${done} changes`);
});
