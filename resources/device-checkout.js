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
   * Every field's rules, by node type: its default (the value a new node shows in the editor and
   * the one the runtime uses when the field is empty) and, for a number, its range (`min`, `max`,
   * `integer`). The editor's validators and the runtime's checks both read them. An action with a
   * `timeout` (seconds it waits for its device) has a wait field; one without has none.
   */
  var WAIT = { default: 120, min: 1, max: 86400 };
  var FIELDS = {
    'badge-reader': {
      kind: { default: 'serial' },
      baudRate: { default: 9600, min: 300, max: 4000000, integer: true },
      lineEnd: { default: 'crlf' },
      stripLeading: { default: 0, min: 0, max: 32, integer: true },
      length: { default: 0, min: 0, max: 64, integer: true },
    },
    'smart-hub': { baudRate: { default: 115200, min: 300, max: 4000000, integer: true }, pollInterval: { default: 1000, min: 100, max: 60000 } },
    'mdm-server': {
      maxConcurrent: { default: 5, min: 1, max: 50, integer: true },
      timeout: { default: 30000, min: 1000, max: 600000 },
      pollInterval: { default: 2000, min: 100, max: 60000 },
      webhookPath: { default: 'device-checkout/webhook' },
    },
    'device-fleet': {
      store: { default: 'file' },
      auditFiles: { default: 'one' },
      databaseConnections: { default: 2, min: 1, max: 20, integer: true },
      usbWindow: { default: 5, min: 1, max: 60 },
      checkoutDeadline: { default: 60, min: 5, max: 3600 },
      userLimit: { default: 1, min: 1, max: 10, integer: true },
      batteryThreshold: { default: 20, min: 0, max: 100 },
      lendingPeriod: { default: 13, min: 0, max: 720 },
      shiftTimes: { default: '' },
      readyMinimum: { default: 0, min: 0, max: 500, integer: true },
      lowStockLead: { default: 60, min: 5, max: 720 },
      badgeLookup: { default: 'http' },
      ldapBadgeAttribute: { default: 'employeeID' },
      ldapUserAttribute: { default: 'sAMAccountName' },
      ldapNameAttribute: { default: 'displayName' },
      cartScreenVolume: { default: 70, min: 0, max: 100 },
      cartScreenLanguage: { default: '' },
    },
    'on-failure': { maxAttempts: { default: 3, min: 1, max: 10, integer: true } },
    'cart-display': { seconds: { default: 10, min: 1, max: 86400 } },
    'audit-export': { hours: { default: 24, min: 0.01, max: 24 * 366 } },
    'hub-led': { port: { min: 1, max: 16, integer: true } },
    'add-wifi': { timeout: WAIT },
    'check-in-device': { timeout: WAIT },
    'check-out-device': { timeout: { default: 15, min: 1, max: 3600 }, unlockPhones: { default: 2, min: 1, max: 10, integer: true } },
    'clear-passcode': { timeout: WAIT },
    'delete-from-mdm': {},
    'dep-enroll': { timeout: { default: 600, min: 1, max: 86400 }, returnTimeout: { default: 900, min: 1, max: 86400 } },
    'erase-device': { timeout: WAIT },
    'mdm-command': { timeout: WAIT },
    'set-device-name': { timeout: WAIT },
    'set-language': {},
    'set-wallpaper': {
      timeout: WAIT,
      width: { default: 1179, min: 100, max: 4096, integer: true },
      height: { default: 2556, min: 100, max: 4096, integer: true },
    },
  };

  /** The defaults alone, by node type (what a new node shows). */
  var DEFAULTS = {};
  Object.keys(FIELDS).forEach(function (type) {
    DEFAULTS[type] = {};
    Object.keys(FIELDS[type]).forEach(function (field) {
      if (FIELDS[type][field].default !== undefined) DEFAULTS[type][field] = FIELDS[type][field].default;
    });
  });

  /** Why `value` breaks the rules of number field `field` of `type` (empty: its default applies), or undefined when it does not. */
  function problem(type, field, value) {
    var rule = FIELDS[type][field];
    if (value === undefined || value === null || value === '') return undefined;
    var number = Number(value);
    if (String(value).trim() === '' || !Number.isFinite(number)) return 'not-a-number';
    if (rule.integer && !Number.isInteger(number)) return 'not-whole';
    if (number < rule.min || number > rule.max) return 'out-of-range';
    return undefined;
  }

  /** A number field's editor definition: its default, and a validator reading its rules; `extra` adds to it (`required`). */
  function field(type, name, extra) {
    return Object.assign(
      {
        value: FIELDS[type][name].default,
        validate: function (v) {
          return problem(type, name, v) === undefined;
        },
      },
      extra,
    );
  }

  /**
   * The editor definition of device action `type` for RED.nodes.registerType: the family's
   * palette category and colour, one input and one output, the fields every action has (name,
   * fleet, and its wait where it has one), then what `own` adds or overrides.
   */
  function action(type, own) {
    var defaults = {
      name: { value: '' },
      fleet: { value: '', type: 'device-fleet', required: true },
    };
    if (FIELDS[type].timeout !== undefined) defaults.timeout = field(type, 'timeout');
    var base = {
      category: 'device checkout',
      color: '#c0deed',
      inputs: 1,
      outputs: 1,
      paletteLabel: function () {
        return this._(type + '.paletteLabel');
      },
      label: function () {
        return this.name || this._(type + '.paletteLabel');
      },
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

  /**
   * A device field's lookup, as node-red-node-serialport does it: clicking `button` lists what
   * `url()` answers (`[{path, manufacturer?}]`) as a pick list under `input`, which stays
   * typeable; `none` shows when there is nothing (or the host cannot list its devices).
   */
  function devicePicker(input, button, none, url) {
    button.on('click', function () {
      none.hide();
      $.getJSON(url())
        .done(function (devices) {
          if (devices.length === 0) return none.show();
          input
            .autocomplete({
              source: devices.map(function (d) {
                return { value: d.path, label: d.path + (d.manufacturer ? ' (' + d.manufacturer + ')' : '') };
              }),
              minLength: 0,
              close: function () {
                input.autocomplete('destroy');
              },
            })
            .autocomplete('search', '');
        })
        .fail(function () {
          none.show();
        });
    });
  }

  return { fields: FIELDS, defaults: DEFAULTS, problem: problem, field: field, action: action, showDefaults: showDefaults, devicePicker: devicePicker };
});
