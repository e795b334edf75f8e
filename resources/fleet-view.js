/*
 * The fleet view: a sidebar tab of the editor listing every phone of every device-fleet, live
 * (one row per message on `device-checkout/device`, the whole list again on `device-checkout/reload`
 * after a database outage; no polling), with each phone's audit trail, what an admin may do to
 * it, and audit exports. The admin API enforces the
 * permissions (device-checkout.read to see, .write to act); the buttons only follow them.
 */
(function () {
  'use strict';
  var RED = window.RED;
  var NS = 'node-red-contrib-device-checkout/device-fleet:device-fleet.view.';
  var t = function (key, vars) {
    return RED._(NS + key, vars);
  };
  /**
   * A word the fleet stores as it is (a status, what changed and why) in the reader's language;
   * a word the catalog does not know (a reason an admin typed, an error code) as it is.
   */
  var word = function (group, value) {
    return value === undefined || value === null ? value : RED._(NS + group + '.' + value, { defaultValue: String(value) });
  };
  var CODES = 'node-red-contrib-device-checkout/device-fleet:device-fleet.codes.';
  var COLUMNS = ['name', 'serial', 'where', 'status', 'user', 'since', 'battery', 'lastError'];
  var FILTERS = ['all', 'out', 'overdue', 'failed', 'docked', 'lost'];
  /** Every row is this tall: only the rows in view are drawn, placed by it. */
  var ROW_HEIGHT = 22;
  var MARGIN_ROWS = 20;
  var rows = new Map();
  var state = { sort: 'where', descending: false, filter: 'all', search: '', selected: undefined, loaded: false, drawing: false };
  var content = $('<div class="dc-fleet-view"></div>');

  var esc = function (value) {
    return value === undefined || value === null
      ? ''
      : String(value).replace(/[&<>"']/g, function (c) {
          return '&#' + c.charCodeAt(0) + ';';
        });
  };
  var where = function (row) {
    if (!row.docked) return row.user ? t('out') : t('undocked');
    return [row.cart, row.hub, row.port]
      .filter(function (v) {
        return v !== undefined;
      })
      .join(' ');
  };
  var cell = function (row, column) {
    switch (column) {
      case 'where':
        return where(row);
      // The id the README and the badge service use, with the display name when there is one.
      case 'user':
        return row.userName && row.userName !== row.user ? row.userName + ' (' + row.user + ')' : row.user;
      case 'since':
        return row.since ? row.since.slice(0, 16).replace('T', ' ') : '';
      case 'battery':
        return row.battery === undefined ? '' : row.battery + '%';
      case 'status':
        return (
          word('statuses', row.status) +
          (row.overdue ? ' \u00b7 ' + t('overdue') : '') +
          (row.lostMode ? ' \u00b7 ' + t('lostMode') : '') +
          (row.wrongCart ? ' \u00b7 ' + t('wrongCart') : '')
        );
      default:
        return row[column];
    }
  };
  var matches = function (row) {
    switch (state.filter) {
      case 'out':
        if (!row.user || row.docked) return false;
        break;
      case 'overdue':
        if (!row.overdue) return false;
        break;
      case 'failed':
        if (row.status !== 'Failed') return false;
        break;
      case 'docked':
        if (!row.docked) return false;
        break;
      case 'lost':
        if (row.status !== 'Lost' && row.status !== 'Retired') return false;
        break;
    }
    if (!state.search) return true;
    var text = [row.name, row.serial, row.udid, row.user, row.userName, row.cart, row.hub, row.status].join(' ').toLowerCase();
    return text.indexOf(state.search) >= 0;
  };
  var collator = new Intl.Collator(undefined, { numeric: true });
  var keyOf = function (row) {
    return state.sort === 'battery' ? (row.battery === undefined ? -1 : row.battery) : String(cell(row, state.sort) || '');
  };
  /** Negative when row `a` (sort key `ka`) goes before row `b` (key `kb`). */
  var order = function (a, ka, b, kb) {
    var by = typeof ka === 'number' ? ka - kb : collator.compare(ka, kb);
    return (state.descending ? -by : by) || collator.compare(a.udid, b.udid);
  };
  /** The list as filtered and sorted: each row's sort key worked out once, not once per comparison. */
  var ordered = function () {
    var keyed = [];
    rows.forEach(function (row) {
      if (matches(row)) keyed.push({ row: row, key: keyOf(row) });
    });
    keyed.sort(function (a, b) {
      return order(a.row, a.key, b.row, b.key);
    });
    return keyed.map(function (k) {
      return k.row;
    });
  };

  content.html(
    '<style>' +
      '.dc-fleet-view{display:flex;flex-direction:column;height:100%;font-size:12px}' +
      '.dc-fleet-bar{display:flex;gap:4px;padding:6px;flex-wrap:wrap;align-items:center;border-bottom:1px solid var(--red-ui-secondary-border-color,#ddd)}' +
      '.dc-fleet-bar input[type=search]{flex:1;min-width:100px}' +
      '.dc-fleet-list{flex:1;overflow:auto}' +
      '.dc-fleet-list table{width:100%;border-collapse:collapse}' +
      '.dc-fleet-list th{position:sticky;top:0;background:var(--red-ui-secondary-background,#f3f3f3);cursor:pointer;text-align:left;padding:3px;white-space:nowrap}' +
      '.dc-fleet-list tr[data-udid]{height:' +
      ROW_HEIGHT +
      'px}' +
      '.dc-fleet-list td{padding:0 3px;line-height:21px;border-bottom:1px solid var(--red-ui-secondary-border-color,#eee);white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:160px}' +
      '.dc-fleet-list tr.dc-overdue td{background:#fde8e8}.dc-fleet-list tr.dc-failed td{background:#fff4d6}.dc-fleet-list tr.dc-selected td{outline:1px solid #4a90d9}' +
      '.dc-fleet-detail{max-height:45%;overflow:auto;border-top:1px solid var(--red-ui-secondary-border-color,#ddd);padding:6px}' +
      '.dc-fleet-detail .dc-actions{display:flex;flex-wrap:wrap;gap:4px;margin:6px 0;align-items:center}' +
      '.dc-fleet-detail .dc-actions input{flex:1 1 90px;min-width:90px;height:24px;padding:2px 4px;font-size:12px;margin:0}' +
      '.dc-fleet-bar select{height:24px;font-size:12px;padding:0 4px;width:auto}' +
      '.dc-fleet-bar input[type=search]{height:24px;font-size:12px}' +
      '.dc-fleet-bar input[type=date]{height:24px;font-size:11px;width:120px;padding:0 2px}' +
      '.dc-fleet-detail ol{padding-left:18px;margin:4px 0}' +
      '.dc-fleet-switch{display:flex;gap:4px;padding:6px 6px 0}' +
      '.dc-fleet-switch .selected{font-weight:bold}' +
      '.dc-phones{display:flex;flex-direction:column;flex:1;min-height:0}' +
      '.dc-insights{flex:1;overflow:auto}.dc-phones[hidden],.dc-insights[hidden]{display:none}' +
      '.dc-figure{padding:0 6px 8px}.dc-figure h4{margin:8px 0 4px;display:flex;justify-content:space-between;align-items:center}' +
      '.dc-figure .dc-chart{position:relative;height:180px}' +
      '.dc-figure tr.dc-flagged td{background:#fff4d6}' +
      '.dc-insights-readiness{margin:6px;padding:4px 6px;font-weight:600}.dc-insights-readiness.dc-flagged{background:#fff4d6}' +
      '.dc-figure{overflow-x:auto}.dc-figure table{border-collapse:collapse;width:100%}.dc-figure td,.dc-figure th{padding:1px 4px;text-align:left;border-bottom:1px solid var(--red-ui-secondary-border-color,#eee)}' +
      '</style>' +
      '<div class="dc-fleet-switch" role="tablist">' +
      '<button class="red-ui-button red-ui-button-small selected" role="tab" data-show="phones">' +
      esc(t('phones')) +
      '</button><button class="red-ui-button red-ui-button-small" role="tab" data-show="insights"><i class="fa fa-bar-chart"></i> ' +
      esc(t('insights.label')) +
      '</button></div>' +
      '<div class="dc-phones">' +
      '<div class="dc-fleet-bar">' +
      '<input type="search" class="dc-fleet-search">' +
      '<select class="dc-fleet-filter">' +
      FILTERS.map(function (f) {
        return '<option value="' + f + '">' + esc(t('filter.' + f)) + '</option>';
      }).join('') +
      '</select>' +
      '<input type="date" class="dc-from" title="' +
      esc(t('from')) +
      '"><input type="date" class="dc-to" title="' +
      esc(t('to')) +
      '">' +
      '<button class="red-ui-button red-ui-button-small dc-export" data-format="csv"><i class="fa fa-download"></i> CSV</button>' +
      '<button class="red-ui-button red-ui-button-small dc-export" data-format="jsonl"><i class="fa fa-download"></i> JSON</button>' +
      '<span class="dc-fleet-count"></span>' +
      '</div>' +
      '<div class="dc-fleet-list"><table><thead><tr>' +
      COLUMNS.map(function (c) {
        return '<th data-column="' + c + '">' + esc(t('column.' + c)) + '</th>';
      }).join('') +
      '</tr></thead><tbody></tbody></table></div>' +
      '<div class="dc-fleet-detail" hidden></div>' +
      '</div>' +
      '<div class="dc-insights" hidden></div>',
  );
  content.find('.dc-fleet-search').attr('placeholder', t('search'));

  /**
   * Draws the list once per frame however many rows changed meanwhile. Only the rows in view
   * (and a margin) are in the page, between two spacers: 5,000 phones cost what 60 do.
   */
  var shown = [];
  function redraw(reorder) {
    if (reorder !== false) state.reorder = true;
    if (state.drawing) return;
    state.drawing = true;
    requestAnimationFrame(function () {
      state.drawing = false;
      if (state.reorder) {
        shown = ordered();
        state.reorder = false;
      }
      var list = content.find('.dc-fleet-list')[0];
      var first = Math.max(0, Math.floor(list.scrollTop / ROW_HEIGHT) - MARGIN_ROWS);
      var last = Math.min(shown.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW_HEIGHT) + MARGIN_ROWS);
      var spacer = function (count) {
        return count > 0 ? '<tr class="dc-spacer" style="height:' + count * ROW_HEIGHT + 'px"></tr>' : '';
      };
      content.find('tbody')[0].innerHTML =
        spacer(first) +
        shown
          .slice(first, last)
          .map(function (row) {
            var classes =
              (row.overdue ? ' dc-overdue' : '') + (row.status === 'Failed' ? ' dc-failed' : '') + (row.udid === state.selected ? ' dc-selected' : '');
            return (
              '<tr data-udid="' +
              esc(row.udid) +
              '" class="' +
              classes +
              '">' +
              COLUMNS.map(function (c) {
                var value = esc(cell(row, c));
                // The last error's code (its first word) says what it means in the reader's words when pointed at.
                var code = c === 'lastError' && /^[A-Z][A-Z_]+[A-Z]/.exec(row.lastError || '');
                var title = code ? esc(RED._(CODES + code[0], { defaultValue: row.lastError })) : value;
                return '<td title="' + title + '">' + value + '</td>';
              }).join('') +
              '</tr>'
            );
          })
          .join('') +
        spacer(shown.length - last);
      content.find('.dc-fleet-count').text(t('count', { shown: shown.length, all: rows.size }));
      if (state.loadStarted !== undefined) {
        content[0].dataset.firstPaint = String(performance.now() - state.loadStarted);
        state.loadStarted = undefined;
      }
      content[0].dataset.drawn = String(Date.now());
    });
  }

  /** One phone changed: moved to its place in the list as it is (no sorting of the whole list), then drawn. */
  function place(row) {
    var old = rows.get(row.udid);
    rows.set(row.udid, row);
    if (!state.reorder) {
      var at = old ? shown.indexOf(old) : -1;
      if (at >= 0) shown.splice(at, 1);
      if (matches(row)) {
        var key = keyOf(row);
        var low = 0;
        var high = shown.length;
        while (low < high) {
          var middle = (low + high) >> 1;
          if (order(shown[middle], keyOf(shown[middle]), row, key) < 0) low = middle + 1;
          else high = middle;
        }
        shown.splice(low, 0, row);
      }
    }
    redraw(false);
  }

  function failure(xhr) {
    var body = xhr.responseJSON || {};
    // RED.notify shows HTML: a device's own words (an MDM's error text) are shown as text.
    RED.notify(esc((body.code || xhr.status) + ': ' + (body.message || xhr.statusText)), 'error');
  }

  function load() {
    state.loadStarted = performance.now();
    $.ajax({ url: 'device-checkout/devices', dataType: 'json' }).then(function (answer) {
      rows.clear();
      answer.devices.forEach(function (row) {
        rows.set(row.udid, row);
      });
      (answer.unreachable || []).forEach(function (fleet) {
        RED.notify(esc(t('unreachable', { fleet: fleet.name, code: fleet.code, message: fleet.message })), { type: 'warning', timeout: 15000 });
      });
      state.loaded = true;
      redraw();
    }, failure);
  }

  function showDetail(udid) {
    var row = rows.get(udid);
    var panel = content.find('.dc-fleet-detail');
    state.selected = udid;
    redraw(false);
    if (!row) return panel.attr('hidden', true);
    var canAct = RED.user.hasPermission('device-checkout.write');
    var action = function (name, label) {
      return '<button class="red-ui-button red-ui-button-small" data-action="' + name + '"' + (canAct ? '' : ' disabled') + '>' + esc(label) + '</button>';
    };
    /** A text field of the panel, switched off for a user who may only look. */
    var input = function (cls, placeholder, value) {
      return (
        '<input type="text" class="' +
        cls +
        '" placeholder="' +
        esc(placeholder) +
        '"' +
        (value ? ' value="' + esc(value) + '"' : '') +
        (canAct ? '' : ' disabled') +
        '>'
      );
    };
    panel.removeAttr('hidden').html(
      // Exports follow the phone picked; this puts every phone back in them.
      '<button class="red-ui-button red-ui-button-small dc-all-phones" style="float: right;">' +
        esc(t('allPhones')) +
        '</button>' +
        '<b>' +
        esc(row.name || row.serial || row.udid) +
        '</b> <span>' +
        esc(row.udid) +
        '</span>' +
        (row.home ? '<div>' + esc(t('home')) + ': ' + esc(row.home) + '</div>' : '') +
        (row.lastLocation
          ? '<div class="dc-last-location">' + esc(t('lastLocation')) + ': ' + esc(row.lastLocation) + mapLink(row.lastLocation) + '</div>'
          : '') +
        '<div class="dc-actions">' +
        input('dc-reason', t('reason')) +
        action('check-in', t('action.check-in')) +
        (row.status === 'Failed' ? action('clear-failed', t('action.clear-failed')) : '') +
        action('lost', t('action.lost')) +
        action('retired', t('action.retired')) +
        action('reinstate', t('action.reinstate')) +
        '</div>' +
        // A phone in Lost Mode can say where it is, and ring.
        (row.lostMode ? '<div class="dc-actions">' + action('locate', t('action.locate')) + action('ring', t('action.ring')) + '</div>' : '') +
        '<div class="dc-actions">' +
        input('dc-attribute-name', t('attributeName'), 'Device Home') +
        input('dc-attribute-value', t('attributeValue')) +
        action('attribute', t('action.attribute')) +
        '</div>' +
        (canAct ? '' : '<div class="dc-read-only">' + esc(t('readOnly')) + '</div>') +
        '<div>' +
        esc(t('trail')) +
        '</div><ol class="dc-trail"></ol>',
    );
    $.ajax({ url: 'device-checkout/devices/' + encodeURIComponent(udid) + '/audit', dataType: 'json' }).then(function (answer) {
      // The hub's config node id is bookkeeping (its name is in the trail too); times in the reader's own.
      panel.find('.dc-trail').html(
        answer.entries
          .slice()
          .reverse()
          .filter(function (e) {
            return !/: hubId$/.test(e.what);
          })
          .map(function (e) {
            var changed =
              e.what === 'status'
                ? ': ' + esc(word('statuses', e.from)) + ' \u2192 ' + esc(word('statuses', e.to))
                : e.from !== undefined || e.to !== undefined
                  ? ': ' + esc(e.from) + ' \u2192 ' + esc(e.to)
                  : '';
            return (
              '<li>' +
              esc(new Date(e.at).toLocaleString()) +
              ' ' +
              esc(word('what', e.what)) +
              changed +
              (e.who ? ' (' + esc(e.who) + (e.why ? ': ' + esc(word('why', e.why)) : '') + ')' : '') +
              '</li>'
            );
          })
          .join(''),
      );
    }, failure);
  }

  function act(name) {
    var panel = content.find('.dc-fleet-detail');
    var body = { reason: panel.find('.dc-reason').val() || undefined };
    if (name === 'attribute') {
      body.name = panel.find('.dc-attribute-name').val();
      body.value = panel.find('.dc-attribute-value').val();
    }
    $.ajax({
      url: 'device-checkout/devices/' + encodeURIComponent(state.selected) + '/' + name,
      method: 'POST',
      contentType: 'application/json',
      data: JSON.stringify(body),
      dataType: 'json',
    }).then(function (answer) {
      place(answer.device);
      RED.notify(esc(t('action.' + name) + ': ' + (answer.device.name || answer.device.udid)), 'success');
      showDetail(answer.device.udid);
    }, failure);
  }

  /** A link that opens a located phone's place on a map (from its `Last Location`: "lat, lon ±m at time"). */
  function mapLink(lastLocation) {
    var at = /^(-?\d+(?:\.\d+)?), (-?\d+(?:\.\d+)?)/.exec(lastLocation);
    if (!at) return '';
    var map = 'https://www.openstreetmap.org/?mlat=' + at[1] + '&mlon=' + at[2] + '#map=18/' + at[1] + '/' + at[2];
    return ' <a target="_blank" rel="noopener noreferrer" href="' + esc(map) + '">' + esc(t('map')) + '</a>';
  }

  function exportAudit(format) {
    var query = { format: format };
    if (state.selected) query.udid = state.selected;
    var from = content.find('.dc-from').val();
    var to = content.find('.dc-to').val();
    if (from) query.from = from;
    // The last day chosen is included: the export runs to the start of the next.
    if (to) query.to = new Date(Date.parse(to) + 86400000).toISOString().slice(0, 10);
    var file = 'device-checkout-audit' + (state.selected ? '-' + state.selected : '') + '.' + format;
    download('device-checkout/audit?' + $.param(query), file, format === 'csv' ? 'text/csv' : 'application/x-ndjson');
  }

  /** Saves what the admin API answers at `url` as `file`: a plain link would not carry the editor's login. */
  function download(url, file, type) {
    $.ajax({ url: url, dataType: 'text' }).then(function (text) {
      var link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([text], { type: type }));
      link.download = file;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () {
        URL.revokeObjectURL(link.href);
      }, 10000); // once the download has it
    }, failure);
  }

  var insights;
  /** The list of phones, or the insights (drawn anew each time they are shown). */
  function showView(view) {
    content.find('.dc-fleet-switch [data-show]').each(function () {
      $(this)
        .toggleClass('selected', this.dataset.show === view)
        .attr('aria-selected', String(this.dataset.show === view));
    });
    content.find('.dc-phones').attr('hidden', view !== 'phones');
    content.find('.dc-insights').attr('hidden', view !== 'insights');
    if (view !== 'insights') return redraw(false);
    insights =
      insights ||
      window.DeviceCheckoutInsights(content.find('.dc-insights'), {
        t: t,
        esc: esc,
        download: download,
        failure: failure,
        rows: function () {
          return Array.from(rows.values());
        },
      });
    insights.show();
  }

  content.on('input', '.dc-fleet-search', function () {
    state.search = $(this).val().trim().toLowerCase();
    redraw();
  });
  content.on('change', '.dc-fleet-filter', function () {
    state.filter = $(this).val();
    redraw();
  });
  content.on('click', 'th', function () {
    var column = $(this).data('column');
    state.descending = state.sort === column ? !state.descending : false;
    state.sort = column;
    showSortArrow();
    redraw();
  });
  /** The sorted column's header says so, and which way. */
  function showSortArrow() {
    content.find('th[data-column]').each(function () {
      var column = $(this).data('column');
      $(this)
        .attr('aria-sort', column === state.sort ? (state.descending ? 'descending' : 'ascending') : null)
        .text(t('column.' + column) + (column === state.sort ? (state.descending ? ' \u25be' : ' \u25b4') : ''));
    });
  }
  showSortArrow();
  content.on('click', 'tbody tr[data-udid]', function () {
    showDetail(this.dataset.udid);
  });
  content.on('click', '.dc-all-phones', function () {
    state.selected = undefined;
    content.find('.dc-fleet-detail').attr('hidden', true).empty();
    redraw(false);
  });
  content.find('.dc-fleet-list').on('scroll', function () {
    redraw(false);
  });
  content.on('click', '[data-action]', function () {
    act(this.dataset.action);
  });
  content.on('click', '.dc-fleet-switch [data-show]', function () {
    showView(this.dataset.show);
  });
  content.on('click', '.dc-export', function () {
    exportAudit(this.dataset.format);
  });

  RED.comms.subscribe('device-checkout/device', function (_topic, row) {
    if (!state.loaded || !row || !row.udid) return;
    place(row);
  });
  // A fleet's database came back: what changed meanwhile was not told row by row. Several fleets
  // coming back at once read the list once.
  var reloading;
  RED.comms.subscribe('device-checkout/reload', function () {
    if (!state.loaded || reloading) return;
    reloading = setTimeout(function () {
      reloading = undefined;
      load();
    }, 500);
  });

  RED.sidebar.addTab({
    id: 'device-checkout-fleet',
    label: t('label'),
    name: t('name'),
    iconClass: 'fa fa-mobile',
    content: content,
    enableOnEdit: true,
    onchange: function () {
      if (state.loaded) redraw(false);
      else load();
    },
  });
})();
