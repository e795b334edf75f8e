import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { encodeFrame, FrameReader } from '../nodes/lib/usb/usbmux-frames';
import { UsbmuxClient, type UsbDevice } from '../nodes/lib/usb/usbmux-client';
import { SimulatedUsbmuxd } from '../sim/usbmuxd-server';
import { tempDir, waitFor } from '../harness/support';

const openSocket = (path: string) =>
  new Promise<import('node:net').Socket>((resolve, reject) => {
    const socket = connect(path, () => resolve(socket));
    socket.once('error', reject);
  });

describe('usbmuxd', () => {
  it('frames plists with the 16-byte little-endian header, however the bytes arrive', () => {
    const frame = encodeFrame({ MessageType: 'Listen', kLibUSBMuxVersion: 3 }, 7);
    assert.equal(frame.readUInt32LE(0), frame.length);
    assert.deepEqual([frame.readUInt32LE(4), frame.readUInt32LE(8), frame.readUInt32LE(12)], [1, 8, 7]);
    const reader = new FrameReader();
    const both = Buffer.concat([frame, encodeFrame({ MessageType: 'Result', Number: 0 }, 8)]);
    const got = [...both].map((byte) => reader.push(Buffer.from([byte]))).flat();
    assert.deepEqual(
      got.map((f) => [f.tag, f.message.MessageType]),
      [
        [7, 'Listen'],
        [8, 'Result'],
      ],
    );
    assert.throws(() => new FrameReader().push(Buffer.from('0400000001000000080000000000000000', 'hex')), /frame of 4 bytes/);
  });

  describe('client against a simulated usbmuxd on a UNIX socket', () => {
    let daemon: SimulatedUsbmuxd;
    let client: UsbmuxClient;
    const events: string[] = [];

    beforeEach(async () => {
      events.length = 0;
      daemon = new SimulatedUsbmuxd(join(tempDir('usbmuxd'), 'usbmuxd.sock'));
      await daemon.start();
      daemon.attach('UDID-ALREADY-THERE', 0x14010100);
      client = new UsbmuxClient({ path: daemon.socketPath, openSocket, retry: { min: 50, max: 200 } });
      for (const event of ['attached', 'detached'] as const) client.on(event, (d: UsbDevice) => events.push(`${event} ${d.udid}`));
      client.start();
      await waitFor('connected', () => client.current.status === 'connected');
    });

    afterEach(async () => {
      await client.close();
      await daemon.stop();
    });

    it('lists what is attached, then reports attaches and detaches with their location', async () => {
      daemon.attach('UDID-NEW', 0x14010300);
      daemon.attach('UDID-OVER-WIFI', 0, 'Network');
      daemon.detach('UDID-ALREADY-THERE');
      await waitFor('events', () => events.length === 3);
      assert.deepEqual(events, ['attached UDID-ALREADY-THERE', 'attached UDID-NEW', 'detached UDID-ALREADY-THERE']);
      assert.equal(client.byUdid('UDID-NEW')?.locationId, 0x14010300);
      assert.equal(client.byUdid('UDID-OVER-WIFI'), undefined, 'Wi-Fi connections have no port');
    });

    it('after usbmuxd restarts, reports what came and went meanwhile, once', async () => {
      await daemon.stop();
      await waitFor('disconnected', () => client.current.status === 'disconnected');
      daemon.attach('UDID-WHILE-DOWN', 0x14010500);
      daemon.detach('UDID-ALREADY-THERE');
      await daemon.start();
      await waitFor('reconnected and listed', () => events.length === 3, 5000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(events, ['attached UDID-ALREADY-THERE', 'detached UDID-ALREADY-THERE', 'attached UDID-WHILE-DOWN']);
    });
  });
});
