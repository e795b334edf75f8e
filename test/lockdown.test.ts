import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { LockdownSession } from '../nodes/lib/usb/lockdown';
import type { CodedError } from '../nodes/lib/coded-error';
import { SimulatedDevice } from '../sim/simulated-device';
import { SimulatedUsbmuxd } from '../sim/usbmuxd-server';
import { tempDir } from '../harness/support';

const openSocket = (path: string) =>
  new Promise<Socket>((resolve, reject) => {
    const socket = connect(path, () => resolve(socket));
    socket.once('error', reject);
  });

describe('lockdown over usbmuxd (pair record, StartSession, TLS)', () => {
  let usb: SimulatedUsbmuxd;
  let phone: SimulatedDevice;

  beforeEach(async () => {
    usb = new SimulatedUsbmuxd(join(tempDir('lockdown'), 'usbmuxd.sock'));
    await usb.start();
    phone = new SimulatedDevice({ serial: 'LOCKDOWN0001' });
    usb.attach(phone, 0x14010100);
  });

  afterEach(() => usb.stop());

  it('reads values and writes language, locale and name inside a TLS session', async () => {
    usb.pair(phone.udid);
    const session = await LockdownSession.open(openSocket, usb.socketPath, { deviceId: 1, udid: phone.udid });
    assert.equal(await session.getValue('SerialNumber'), 'LOCKDOWN0001');
    await session.setValue('Language', 'de', 'com.apple.international');
    await session.setValue('Locale', 'de_DE', 'com.apple.international');
    await session.setValue('DeviceName', 'Station 4 / 7');
    session.close();
    assert.deepEqual([phone.language, phone.locale, phone.name], ['de', 'de_DE', 'Station 4 / 7']);
    assert.deepEqual(
      phone.lockdownWrites.map((w) => `${w.domain ?? ''}:${w.key}=${w.value}`),
      ['com.apple.international:Language=de', 'com.apple.international:Locale=de_DE', ':DeviceName=Station 4 / 7'],
    );
  });

  it('fails with NOT_PAIRED without a pair record, and DEVICE_GONE for a phone no longer on USB', async () => {
    await assert.rejects(
      LockdownSession.open(openSocket, usb.socketPath, { deviceId: 1, udid: phone.udid }),
      (err: CodedError) => err.code === 'NOT_PAIRED' && /errors\.no-pair-record/.test(err.message),
    );
    usb.pair(phone.udid);
    usb.detach(phone.udid);
    await assert.rejects(LockdownSession.open(openSocket, usb.socketPath, { deviceId: 1, udid: phone.udid }), (err: CodedError) => err.code === 'DEVICE_GONE');
  });
});
