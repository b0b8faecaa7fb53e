import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CommandTable } from '../../src/admin/command-table.js';
import { AdminError, AdminErrorCode } from '../../src/admin/errors.js';
import { FirstBootPendingError } from '../../src/admin/first-boot.js';
import { describe } from '../../src/admin/shell.js';
import { StoreError, StoreErrorCode } from '../../src/store/errors.js';

test('argument counts out of bounds are ERR_ADMIN_ARGS', () => {
  const table = new CommandTable([{ words: ['show', 'thing'], params: 'NAME', summary: 'x', minArgs: 1, maxArgs: 1, run: () => {} }]);
  const lookup = (line: string) => table.find(line.split(' '))!;
  assert.throws(() => table.checkArgs(lookup('show thing')), { code: AdminErrorCode.args });
  assert.throws(() => table.checkArgs(lookup('show thing a b')), { code: AdminErrorCode.args });
  table.checkArgs(lookup('show thing a'));
});

test("one line per error: the shell's own codes print the message alone, everything else carries its code", () => {
  assert.equal(describe(new AdminError(AdminErrorCode.args, 'missing parameter')), 'missing parameter');
  assert.equal(describe(new AdminError(AdminErrorCode.notPermitted, 'not here')), 'not here');
  assert.equal(describe(new FirstBootPendingError('first boot is making keys (12 s)')), 'first boot is making keys (12 s)');
  assert.equal(describe(new AdminError(AdminErrorCode.system, 'systemctl failed')), 'systemctl failed [ERR_ADMIN_SYSTEM]');
  assert.equal(describe(new StoreError(StoreErrorCode.deviceUnknown, 'no device X')), 'no device X [ERR_DEVICE_UNKNOWN]');
});
