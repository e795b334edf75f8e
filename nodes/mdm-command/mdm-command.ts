import type { NodeAPI } from 'node-red';
import { CodedError } from '../lib/coded-error';
import { appleSchemas } from '../lib/mdm/apple-schema';
import { mdmCommand } from '../lib/mdm/commands';
import { registerDeviceAction, type DeviceActionDef } from '../shared/device-action';

interface MdmCommandDef extends DeviceActionDef {
  /** Apple's RequestType, e.g. DeviceInformation. */
  command: string;
  /** The command's keys as JSON; empty takes msg.payload. */
  params: string;
  destructive: boolean;
}

/** The command's keys: from the node (JSON; undefined when it is not), else from msg.payload. */
function commandKeys(params: string, payload: unknown): Record<string, unknown> | undefined {
  if (params?.trim()) {
    try {
      return JSON.parse(params) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
  return payload && typeof payload === 'object' && !Array.isArray(payload) && !Buffer.isBuffer(payload) ? (payload as Record<string, unknown>) : {};
}

/** Problems with a command before it is sent; empty when Apple's schema accepts it. */
function commandProblems(requestType: string, keys: Record<string, unknown>): string[] {
  return appleSchemas().validateCommand(mdmCommand(requestType, keys));
}

/** Perform MDM Command: any command Apple's schemas describe; the device's answer becomes msg.payload. */
export default function (RED: NodeAPI): void {
  registerDeviceAction<MdmCommandDef>(RED, 'mdm-command', async (config, { msg, device, mdm, wait }) => {
    const keys = commandKeys(config.params, msg.payload);
    if (!keys) throw new CodedError('INVALID_COMMAND', RED._('mdm-command.errors.not-json'));
    const command = mdmCommand(config.command, keys);
    const problems = appleSchemas().validateCommand(command);
    if (problems.length > 0)
      throw new CodedError('INVALID_COMMAND', RED._('mdm-command.errors.invalid', { command: config.command, problems: problems.join('; ') }), { problems });
    return mdm.perform(device.udid, command, { ...wait, destructive: Boolean(config.destructive) || config.command === 'EraseDevice' });
  });

  RED.httpAdmin.get('/device-checkout/request-types', RED.auth.needsPermission('mdm-command.read'), (_req, res) => {
    res.json(appleSchemas().requestTypes);
  });
  RED.httpAdmin.post('/device-checkout/validate-command', RED.auth.needsPermission('mdm-command.read'), (req, res) => {
    const { command, params } = (req.body ?? {}) as { command?: string; params?: string };
    const keys = commandKeys(params ?? '', undefined);
    try {
      res.json({ problems: keys ? commandProblems(command ?? '', keys) : [RED._('mdm-command.errors.not-json')] });
    } catch (err) {
      res.json({ problems: [(err as Error).message] });
    }
  });
}
