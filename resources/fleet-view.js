/*
 * The fleet view: a sidebar tab of the editor listing every phone of every device-fleet, live
 * (one row per message on `device-checkout/device`, no polling of the list), with each phone's
 * audit trail, what an admin may do to it, and audit exports. The admin API enforces the
 * permissions (device-checkout.read to see, .write to act); the buttons only follow them.
 */
(function () {
  'use strict';
  var RED = window.RED;
  var NS = 'node-red-contrib-device-checkout/device-fleet:device-fleet.view.';
  var t = function (key, vars) { return RED._(NS + key, vars); };
  var COLUMNS = ['name', 'serial', 'where', 'status', 'user', 'since', 'battery', 'lastError'];
  var FILTERS = ['all', 'out', 'overdue', 'failed', 'docked', 'lost'];
  var rows = new Map();
  var state = { sort: 'where', descending: false, filter: 'all', search: '', selected: undefined, loaded: false, drawing: false };
  var content = $('<div class="dc-fleet-view"></div>');

  var esc = function (value) { return value === undefined || value === null ? '' : String(value).replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); };
  var where = function (row) {
    if (!row.docked) return row.user ? t('out') : t('undocked');
    return [row.cart, row.hub, row.port].filter(function (v) { return v !== undefined; }).join(' ');
  };
  var cell = function (row, column) {
    switch (column) {
      case 'where': return where(row);
      case 'user': return row.userName || row.user;
      case 'since': return row.since ? row.since.slice(0, 16).replace('T', ' ') : '';
      case 'battery': return row.battery === undefined ? '' : row.battery + '%';
      case 'status': return row.status + (row.overdue ? ' \u00b7 ' + t('overdue') : '') + (row.wrongCart ? ' \u00b7 ' + t('wrongCart') : '');
      default: return row[column];
    }
  };
  var matches = function (row) {
    switch (state.filter) {
      case 'out': if (!row.user || row.docked) return false; break;
      case 'overdue': if (!row.overdue) return false; break;
      case 'failed': if (row.status !== 'Failed') return false; break;
      case 'docked': if (!row.docked) return false; break;
      case 'lost': if (row.status !== 'Lost' && row.status !== 'Retired') return false; break;
    }
    if (!state.search) return true;
    var text = [row.name, row.serial, row.udid, row.user, row.userName, row.cart, row.hub, row.status].join(' ').toLowerCase();
    return text.indexOf(state.search) >= 0;
  };
  var compare = function (a, b) {
    var x = state.sort === 'battery' ? (a.battery === undefined ? -1 : a.battery) : String(cell(a, state.sort) || '');
    var y = state.sort === 'battery' ? (b.battery === undefined ? -1 : b.battery) : String(cell(b, state.sort) || '');
    var order = typeof x === 'number' ? x - y : x.localeCompare(y, undefined, { numeric: true });
    return (state.descending ? -order : order) || a.udid.localeCompare(b.udid);
  };

  content.html(
    '<style>' +
      '.dc-fleet-view{display:flex;flex-direction:column;height:100%;font-size:12px}' +
      '.dc-fleet-bar{display:flex;gap:4px;padding:6px;flex-wrap:wrap;align-items:center;border-bottom:1px solid var(--red-ui-secondary-border-color,#ddd)}' +
      '.dc-fleet-bar input[type=search]{flex:1;min-width:100px}' +
      '.dc-fleet-list{flex:1;overflow:auto}' +
      '.dc-fleet-list table{width:100%;border-collapse:collapse}' +
      '.dc-fleet-list th{position:sticky;top:0;background:var(--red-ui-secondary-background,#f3f3f3);cursor:pointer;text-align:left;padding:3px;white-space:nowrap}' +
      '.dc-fleet-list td{padding:3px;border-bottom:1px solid var(--red-ui-secondary-border-color,#eee);white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:160px}' +
      '.dc-fleet-list tr.dc-overdue td{background:#fde8e8}.dc-fleet-list tr.dc-failed td{background:#fff4d6}.dc-fleet-list tr.dc-selected td{outline:1px solid #4a90d9}' +
      '.dc-fleet-detail{max-height:45%;overflow:auto;border-top:1px solid var(--red-ui-secondary-border-color,#ddd);padding:6px}' +
      '.dc-fleet-detail .dc-actions{display:flex;flex-wrap:wrap;gap:4px;margin:6px 0;align-items:center}' +
      '.dc-fleet-detail .dc-actions input{flex:1 1 90px;min-width:90px;height:24px;padding:2px 4px;font-size:12px;margin:0}' +
      '.dc-fleet-bar select{height:24px;font-size:12px;padding:0 4px;width:auto}' +
      '.dc-fleet-bar input[type=search]{height:24px;font-size:12px}' +
      '.dc-fleet-detail ol{padding-left:18px;margin:4px 0}' +
    '</style>' +
    '<div class="dc-fleet-bar">' +
      '<input type="search" class="dc-fleet-search">' +
      '<select class="dc-fleet-filter">' + FILTERS.map(function (f) { return '<option value="' + f + '">' + esc(t('filter.' + f)) + '</option>'; }).join('') + '</select>' +
      '<button class="red-ui-button red-ui-button-small dc-export" data-format="csv"><i class="fa fa-download"></i> CSV</button>' +
      '<button class="red-ui-button red-ui-button-small dc-export" data-format="jsonl"><i class="fa fa-download"></i> JSON</button>' +
      '<span class="dc-fleet-count"></span>' +
    '</div>' +
    '<div class="dc-fleet-list"><table><thead><tr>' +
      COLUMNS.map(function (c) { return '<th data-column="' + c + '">' + esc(t('column.' + c)) + '</th>'; }).join('') +
    '</tr></thead><tbody></tbody></table></div>' +
    '<div class="dc-fleet-detail" hidden></div>'
  );
  content.find('.dc-fleet-search').attr('placeholder', t('search'));

  /** Draws the list once per frame however many rows changed meanwhile. */
  function redraw() {
    if (state.drawing) return;
    state.drawing = true;
    requestAnimationFrame(function () {
      state.drawing = false;
      var shown = Array.from(rows.values()).filter(matches).sort(compare);
      content.find('tbody')[0].innerHTML = shown.map(function (row) {
        var classes = (row.overdue ? ' dc-overdue' : '') + (row.status === 'Failed' ? ' dc-failed' : '') + (row.udid === state.selected ? ' dc-selected' : '');
        return '<tr data-udid="' + esc(row.udid) + '" class="' + classes + '">' + COLUMNS.map(function (c) {
          var value = esc(cell(row, c));
          return '<td title="' + value + '">' + value + '</td>';
        }).join('') + '</tr>';
      }).join('');
      content.find('.dc-fleet-count').text(t('count', { shown: shown.length, all: rows.size }));
      content[0].dataset.drawn = String(Date.now());
    });
  }

  function failure(xhr) {
    var body = xhr.responseJSON || {};
    RED.notify(t('failed', { code: body.code || xhr.status, message: body.message || xhr.statusText }), 'error');
  }

  function load() {
    $.ajax({ url: 'device-checkout/devices', dataType: 'json' }).then(function (answer) {
      rows.clear();
      answer.devices.forEach(function (row) { rows.set(row.udid, row); });
      state.loaded = true;
      redraw();
    }, failure);
  }

  function showDetail(udid) {
    var row = rows.get(udid);
    var panel = content.find('.dc-fleet-detail');
    state.selected = udid;
    redraw();
    if (!row) return panel.attr('hidden', true);
    var canAct = RED.user.hasPermission('device-checkout.write');
    var action = function (name, label) { return '<button class="red-ui-button red-ui-button-small" data-action="' + name + '"' + (canAct ? '' : ' disabled') + '>' + esc(label) + '</button>'; };
    panel.removeAttr('hidden').html(
      '<b>' + esc(row.name || row.serial || row.udid) + '</b> <span>' + esc(row.udid) + '</span>' +
      (row.home ? '<div>' + esc(t('home')) + ': ' + esc(row.home) + '</div>' : '') +
      '<div class="dc-actions">' +
        '<input type="text" class="dc-reason" placeholder="' + esc(t('reason')) + '"' + (canAct ? '' : ' disabled') + '>' +
        action('check-in', t('action.check-in')) + action('lost', t('action.lost')) + action('retired', t('action.retired')) + action('reinstate', t('action.reinstate')) +
      '</div>' +
      '<div class="dc-actions">' +
        '<input type="text" class="dc-attribute-name" placeholder="' + esc(t('attributeName')) + '" value="Device Home"' + (canAct ? '' : ' disabled') + '>' +
        '<input type="text" class="dc-attribute-value" placeholder="' + esc(t('attributeValue')) + '"' + (canAct ? '' : ' disabled') + '>' +
        action('attribute', t('action.attribute')) +
      '</div>' +
      (canAct ? '' : '<div class="dc-read-only">' + esc(t('readOnly')) + '</div>') +
      '<div>' + esc(t('trail')) + '</div><ol class="dc-trail"></ol>'
    );
    $.ajax({ url: 'device-checkout/devices/' + encodeURIComponent(udid) + '/audit', dataType: 'json' }).then(function (answer) {
      panel.find('.dc-trail').html(answer.entries.slice().reverse().map(function (e) {
        return '<li>' + esc(e.at.slice(0, 19).replace('T', ' ')) + ' ' + esc(e.what) + (e.from !== undefined || e.to !== undefined ? ': ' + esc(e.from) + ' \u2192 ' + esc(e.to) : '') + (e.who ? ' (' + esc(e.who) + (e.why ? ': ' + esc(e.why) : '') + ')' : '') + '</li>';
      }).join(''));
    }, failure);
  }

  function act(name) {
    var panel = content.find('.dc-fleet-detail');
    var body = { reason: panel.find('.dc-reason').val() || undefined };
    if (name === 'attribute') { body.name = panel.find('.dc-attribute-name').val(); body.value = panel.find('.dc-attribute-value').val(); }
    $.ajax({ url: 'device-checkout/devices/' + encodeURIComponent(state.selected) + '/' + name, method: 'POST', contentType: 'application/json', data: JSON.stringify(body), dataType: 'json' }).then(function (answer) {
      rows.set(answer.device.udid, answer.device);
      RED.notify(t('done', { action: t('action.' + name), device: answer.device.name || answer.device.udid }), 'success');
      showDetail(answer.device.udid);
    }, failure);
  }

  function exportAudit(format) {
    var query = { format: format };
    if (state.selected) query.udid = state.selected;
    $.ajax({ url: 'device-checkout/audit?' + $.param(query), dataType: 'text' }).then(function (text) {
      var link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([text], { type: format === 'csv' ? 'text/csv' : 'application/x-ndjson' }));
      link.download = 'device-checkout-audit' + (state.selected ? '-' + state.selected : '') + '.' + format;
      document.body.appendChild(link);
      link.click();
      link.remove();
    }, failure);
  }

  content.on('input', '.dc-fleet-search', function () { state.search = $(this).val().trim().toLowerCase(); redraw(); });
  content.on('change', '.dc-fleet-filter', function () { state.filter = $(this).val(); redraw(); });
  content.on('click', 'th', function () {
    var column = $(this).data('column');
    state.descending = state.sort === column ? !state.descending : false;
    state.sort = column;
    redraw();
  });
  content.on('click', 'tbody tr', function () { showDetail(this.dataset.udid); });
  content.on('click', '[data-action]', function () { act(this.dataset.action); });
  content.on('click', '.dc-export', function () { exportAudit(this.dataset.format); });

  RED.comms.subscribe('device-checkout/device', function (_topic, row) {
    if (!state.loaded || !row || !row.udid) return;
    rows.set(row.udid, row);
    redraw();
  });

  RED.sidebar.addTab({
    id: 'device-checkout-fleet',
    label: t('label'),
    name: t('name'),
    iconClass: 'fa fa-mobile',
    content: content,
    enableOnEdit: true,
    onchange: function () { if (!state.loaded) load(); }
  });
})();
