/*
 * What the package's editor and runtime share, in one place: the editor loads it as
 * resources/node-red-contrib-device-checkout/device-checkout.js (global DeviceCheckout), the
 * runtime requires it (nodes/shared/defaults.ts).
 */
(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.DeviceCheckout = factory();
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  /**
   * Every default a field falls back to, by node type: the value a new node shows in the
   * editor and the one the runtime uses when the field is empty. An action with a `timeout`
   * (seconds it waits for its device) has a wait field; one without has none.
   */
  var DEFAULTS = {
    'smart-hub': { baudRate: 115200, pollInterval: 1000 },
    'mdm-server': { maxConcurrent: 5, timeout: 30000, pollInterval: 2000, webhookPath: 'device-checkout/webhook' },
    'device-fleet': { store: 'file', auditFiles: 'one', usbWindow: 5, checkoutDeadline: 60, userLimit: 1, batteryThreshold: 20, lendingPeriod: 13 },
    'on-failure': { maxAttempts: 3 },
    'audit-export': { hours: 24 },
    'add-wifi': { timeout: 120 },
    'check-in-device': { timeout: 120 },
    'check-out-device': { timeout: 15, unlockPhones: 2 },
    'clear-passcode': { timeout: 120 },
    'delete-from-mdm': {},
    'dep-enroll': { timeout: 600 },
    'erase-device': { timeout: 120 },
    'mdm-command': { timeout: 120 },
    'set-device-name': { timeout: 120 },
    'set-language': {},
    'set-wallpaper': { timeout: 120, width: 1179, height: 2556 }
  };

  /**
   * The editor definition of device action `type` for RED.nodes.registerType: the family's
   * palette category and colour, one input and one output, the fields every action has (name,
   * fleet, and its wait where it has one), then what `own` adds or overrides.
   */
  function action(type, own) {
    var RED = self.RED; // the editor's, when it calls this (the runtime only reads the table)
    var defaults = {
      name: { value: '' },
      fleet: { value: '', type: 'device-fleet', required: true }
    };
    if (DEFAULTS[type].timeout !== undefined) defaults.timeout = { value: DEFAULTS[type].timeout, validate: RED.validators.number() };
    var base = {
      category: 'device checkout',
      color: '#c0deed',
      inputs: 1,
      outputs: 1,
      paletteLabel: function () { return this._(type + '.paletteLabel'); },
      label: function () { return this.name || this._(type + '.paletteLabel'); }
    };
    var result = Object.assign(base, own);
    result.defaults = Object.assign(defaults, own.defaults);
    return result;
  }

  /**
   * In an edit dialog: a field the node has no value for (a flow from before the field, or
   * written by hand) shows its default, as a new node would, so saving stores that default.
   */
  function showDefaults(node, type) {
    Object.keys(DEFAULTS[type]).forEach(function (field) {
      if (node[field] !== undefined && node[field] !== '') return;
      self.$('#node-' + (node._def.category === 'config' ? 'config-' : '') + 'input-' + field).val(String(DEFAULTS[type][field]));
    });
  }

  return { defaults: DEFAULTS, action: action, showDefaults: showDefaults };
});
