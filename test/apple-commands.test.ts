import assert from 'node:assert/strict';
import { AppleSchemas } from '../nodes/lib/mdm/apple-schema';
import * as commands from '../nodes/lib/mdm/commands';
import { appLockProfile, WIFI_SECURITY, wifiProfile } from '../nodes/lib/mdm/profiles';

describe('Apple MDM commands and profiles', () => {
  const schemas = new AppleSchemas();
  const png = Buffer.from('89504e470d0a1a0a', 'hex');

  /** The command, round-tripped through the XML plist the device receives, conforms. */
  function assertConforms(command: commands.MdmCommand): void {
    assert.deepEqual(schemas.validateCommand(command), [], command.Command.RequestType);
    const onTheWire = commands.parsePlist(commands.toPlist(command));
    assert.deepEqual(schemas.validateCommand(onTheWire), [], `${command.Command.RequestType} after plist`);
  }

  function installedProfile(command: commands.MdmCommand): Record<string, unknown> {
    assert.equal(command.Command.RequestType, 'InstallProfile');
    return commands.parsePlist(command.Command.Payload as Buffer) as Record<string, unknown>;
  }

  it('builds every command this package sends as Apple specifies it', () => {
    const built = [
      commands.eraseDevice(),
      commands.eraseDevice({ preserveDataPlan: true, disallowProximitySetup: true, returnToService: { wifiProfile: Buffer.from('<plist/>') } }),
      commands.clearPasscode(Buffer.from('unlock-token')),
      commands.settings(commands.deviceName('Ward 3 - Phone 12')),
      commands.settings(commands.wallpaper(png, 1), commands.wallpaper(png, 3)),
      commands.settings(commands.applicationConfiguration('com.example.locker', { user: 'alice', status: 'Checked Out', since: new Date(), flags: [true, 1] })),
      commands.installProfile(wifiProfile({ ssid: 'Hospital', security: 'WPA2', password: 'pw' })),
      commands.installProfile(appLockProfile('com.example.locker')),
      commands.removeProfile('org.nodered.device-checkout.app-lock'),
      commands.deviceInformation(['UDID', 'SerialNumber', 'BatteryLevel', 'DeviceName', 'IsSupervised']),
      commands.deviceConfigured(),
      commands.restartDevice(),
      commands.restartDevice(true),
    ];
    for (const command of built) assertConforms(command);
    assert.equal(new Set(built.map((c) => c.CommandUUID)).size, built.length, 'every command gets its own CommandUUID');
  });

  it('builds Wi-Fi profiles for every security type, and the app lock profile', () => {
    for (const security of WIFI_SECURITY) {
      const profile = installedProfile(
        commands.installProfile(wifiProfile({ ssid: 'Ward <3> "Guest" 病院 📶', security, password: 'secret', hidden: true, autoJoin: false })),
      );
      assert.deepEqual(schemas.validateProfile(profile), [], security);
      const payload = (profile.PayloadContent as Record<string, unknown>[])[0];
      assert.equal(payload.SSID_STR, 'Ward <3> "Guest" 病院 📶');
      assert.equal(payload.EncryptionType, security);
      assert.equal(payload.Password, security === 'None' ? undefined : 'secret');
    }
    const lock = installedProfile(commands.installProfile(appLockProfile('com.example.locker')));
    assert.deepEqual(schemas.validateProfile(lock), []);
    assert.deepEqual((lock.PayloadContent as { App: unknown }[])[0].App, { Identifier: 'com.example.locker' });
  });

  it('names what is wrong with a command or profile that breaks the schema', () => {
    const bad = (requestType: string, keys: object) => schemas.validateCommand({ CommandUUID: 'A', Command: { RequestType: requestType, ...keys } });
    assert.deepEqual(bad('EraseDevice', { PreserveDataPlan: 'yes' }), ['/Command/PreserveDataPlan must be boolean']);
    assert.deepEqual(bad('ClearPasscode', {}), ["/Command must have required property 'UnlockToken'"]);
    assert.deepEqual(bad('ClearPasscode', { UnlockToken: 'not data' }), ['/Command/UnlockToken must pass "plistData" keyword validation']);
    assert.deepEqual(bad('Settings', { Settings: [{ Item: 'Wallpaper', Image: png, Where: 4 }] }), [
      '/Command/Settings/0/Where must be equal to one of the allowed values (1, 2, 3)',
    ]);
    assert.deepEqual(bad('Settings', { Settings: [{ Item: 'DeviceName' }] }), ["/Command/Settings/0 must have required property 'DeviceName'"]);
    assert.deepEqual(bad('RemoveProfile', { Identifier: 'x', Extra: 1 }), ['/Command must NOT have additional properties']);
    assert.deepEqual(bad('Frobnicate', {}), ['no Apple schema for RequestType "Frobnicate"']);
    const profile = wifiProfile({ ssid: 'x', security: 'WPA2' });
    (profile.PayloadContent as Record<string, unknown>[])[0].EncryptionType = 'WPA9';
    assert.match(schemas.validateProfile(profile).join(), /PayloadContent\/0\/EncryptionType must be equal to one of the allowed values/);
    assert.match(schemas.validateProfile({ ...profile, PayloadVersion: 2 }).join(), /\/PayloadVersion must be equal to one of the allowed values/);
  });
});
