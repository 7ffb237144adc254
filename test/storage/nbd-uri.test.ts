// NBD disk addresses in QEMU's URI syntax, and the refusals that name what is wrong.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isNbdUri, nbdUri, parseNbdUri } from '../../src/storage/nbd/uri.js';
import { parseDisk } from '../../src/cli/device-args.js';

test('nbd:// and nbd+unix:// URIs parse as QEMU reads them, and print back the same', () => {
  assert.deepEqual(parseNbdUri('nbd://10.0.0.5:10810/vm%20disk'), { transport: 'tcp', host: '10.0.0.5', port: 10810, export: 'vm disk' });
  assert.deepEqual(parseNbdUri('nbd://[::1]/d'), { transport: 'tcp', host: '::1', port: 10809, export: 'd' });
  assert.deepEqual(parseNbdUri('nbd://host'), { transport: 'tcp', host: 'host', port: 10809, export: '' });
  assert.deepEqual(parseNbdUri('nbd+unix:///d?socket=/run/n.sock'), { transport: 'unix', socket: '/run/n.sock', export: 'd' });
  for (const u of ['nbd://10.0.0.5:10810/vm%20disk', 'nbd://[::1]/d', 'nbd+unix:///d?socket=%2Frun%2Fn.sock']) {
    assert.equal(nbdUri(parseNbdUri(u)), u);
  }
  assert.ok(isNbdUri('nbd+unix:///x?socket=/s') && !isNbdUri('/images/nbd.qcow2'));
});

test('bad nbd URIs are refused with the reason', () => {
  assert.throws(() => parseNbdUri('nbd://h/d?tls=on'), /takes no query/);
  assert.throws(() => parseNbdUri('nbd+unix://host/d?socket=/s'), /takes no host/);
  assert.throws(() => parseNbdUri('nbd+unix:///d'), /needs \?socket=PATH/);
  assert.throws(() => parseNbdUri('nbd://user:pw@h/d'), /user, password/);
  assert.throws(() => parseNbdUri('nbd://h/%E0%A4%A'), /percent-encoding/);
  assert.throws(() => parseNbdUri('nbd://h/a%00b'), /bad export name/);
});

test('--disk takes an NBD URI as its file, with its query, and refuses format=qcow2 on it', () => {
  assert.deepEqual(parseDisk('nbd+unix:///d?socket=/s,ro'), { file: 'nbd+unix:///d?socket=/s', readOnly: true });
  assert.deepEqual(parseDisk('file=nbd://h:1/d'), { file: 'nbd://h:1/d', readOnly: false });
  assert.throws(() => parseDisk('nbd://h/d,format=qcow2'), /an NBD export is a raw disk/);
  assert.throws(() => parseDisk('nbd://h/d?x=1'), /takes no query/);
});
