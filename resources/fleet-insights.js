/*
 * The fleet tab's insights: a fleet's (or one cart's) figures from its audit trail over a chosen
 * range, each a chart with the table behind it and its CSV. Chart.js comes from the package
 * (device-checkout/chart.js), loaded the first time insights are shown: the editor may have no
 * internet, and an admin who never looks never pays for it.
 */
(function () {
  'use strict';
  var RED = window.RED;
  var FIGURES = ['states', 'checkouts-by-hour', 'kept', 'failing', 'failing-ports', 'people'];
  /** The figures that are lists: a table, no chart. */
  var LISTS = ['failing', 'failing-ports', 'people'];
  /** The people's figure: for those who may act (the admin API refuses the others). */
  var ADMIN_ONLY = ['people'];
  /** The states chart's colours: ready, out, failed, other (as the figure's columns). */
  var STATE_COLOURS = ['#5cb85c', '#4a90d9', '#d9534f', '#b0b0b0'];
  var RANGES = ['24h', '7d', '30d'];
  var BAR = '#4a90d9';
  var PAST_LENDING = '#d9534f';

  /**
   * Draws the insights in `panel` (a jQuery element) with the fleet tab's `tools`: `t` (its
   * catalog), `esc`, `download(url, file, type)`, `failure(xhr)`, and `rows()` (the phones
   * listed, for each fleet's carts).
   */
  window.DeviceCheckoutInsights = function (panel, tools) {
    var t = function (key, vars) {
      return tools.t('insights.' + key, vars);
    };
    var esc = tools.esc;
    var charts = {};
    var figures = FIGURES.filter(function (figure) {
      return ADMIN_ONLY.indexOf(figure) < 0 || RED.user.hasPermission('device-checkout.write');
    });
    var chartJs;

    panel.html(
      '<div class="dc-fleet-bar">' +
        '<select class="dc-insights-fleet" aria-label="' +
        esc(t('fleet')) +
        '"></select>' +
        '<select class="dc-insights-cart" aria-label="' +
        esc(t('cart')) +
        '"></select>' +
        '<select class="dc-insights-range" aria-label="' +
        esc(t('range')) +
        '">' +
        RANGES.map(function (range) {
          return '<option value="' + range + '"' + (range === '7d' ? ' selected' : '') + '>' + esc(t('ranges.' + range)) + '</option>';
        }).join('') +
        '</select>' +
        '</div>' +
        '<p class="dc-insights-readiness" role="status" hidden></p>' +
        '<div class="dc-insights-figures">' +
        figures
          .map(function (figure) {
            return (
              '<section class="dc-figure" data-figure="' +
              figure +
              '"><h4>' +
              esc(t(figure + '.title')) +
              ' <button class="red-ui-button red-ui-button-small dc-figure-csv"><i class="fa fa-download"></i> CSV</button></h4>' +
              '<div class="dc-figure-note"></div>' +
              (LISTS.indexOf(figure) >= 0
                ? '<table class="dc-figure-table"></table>'
                : '<div class="dc-chart"><canvas role="img"></canvas></div><details><summary>' +
                  esc(t('table')) +
                  '</summary><table class="dc-figure-table"></table></details>') +
              '</section>'
            );
          })
          .join('') +
        '</div>',
    );

    /** The device-fleet nodes of the flows, by name, and the carts their phones were seen at. */
    function fillFleets() {
      var select = panel.find('.dc-insights-fleet');
      var chosen = select.val();
      var fleets = [];
      RED.nodes.eachConfig(function (node) {
        if (node.type === 'device-fleet') fleets.push({ id: node.id, name: node.name || node.cart || node.id });
      });
      fleets.sort(function (a, b) {
        return a.name.localeCompare(b.name);
      });
      select.html(
        fleets
          .map(function (fleet) {
            return '<option value="' + esc(fleet.id) + '">' + esc(fleet.name) + '</option>';
          })
          .join(''),
      );
      if (
        fleets.some(function (fleet) {
          return fleet.id === chosen;
        })
      )
        select.val(chosen);
      fillCarts();
    }

    /** A shared fleet's carts (every cart of its database, or one); a fleet of its own file is one cart. */
    function fillCarts() {
      var fleet = RED.nodes.node(panel.find('.dc-insights-fleet').val());
      var select = panel.find('.dc-insights-cart');
      var shared = fleet && fleet.store === 'postgres';
      var carts = {};
      tools.rows().forEach(function (row) {
        if (fleet && row.fleet === fleet.id && row.cart) carts[row.cart] = true;
      });
      select.html(
        '<option value="">' +
          esc(t('allCarts')) +
          '</option>' +
          Object.keys(carts)
            .sort()
            .map(function (cart) {
              return '<option value="' + esc(cart) + '">' + esc(cart) + '</option>';
            })
            .join(''),
      );
      select.toggle(Boolean(shared));
    }

    function query(figure) {
      var q = { fleet: panel.find('.dc-insights-fleet').val(), range: panel.find('.dc-insights-range').val() };
      var cart = panel.find('.dc-insights-cart').val();
      // Phones and people move between carts: their states and people are the whole fleet's.
      if (cart && figure !== 'states' && figure !== 'people') q.cart = cart;
      return 'device-checkout/insights/' + figure + '?' + $.param(q);
    }

    /** This Node-RED's cart of the fleet at its next shift change (the forecast that raises low-stock), if it has shift changes. */
    function loadReadiness(fleet) {
      var line = panel.find('.dc-insights-readiness');
      $.ajax({ url: 'device-checkout/readiness/' + encodeURIComponent(fleet), dataType: 'json' }).then(function (readiness) {
        if (readiness.at === undefined) return line.prop('hidden', true);
        var shift = new Date(readiness.at).toLocaleTimeString(RED.i18n.lang(), { hour: '2-digit', minute: '2-digit' });
        var short = readiness.minimum > 0 && readiness.ready < readiness.minimum;
        line
          .text(
            t('readiness.line', { shift: shift, ready: readiness.ready, docked: readiness.docked }) +
              (readiness.minimum > 0 ? ' ' + t(short ? 'readiness.short' : 'readiness.enough', { minimum: readiness.minimum }) : ''),
          )
          .toggleClass('dc-flagged', short)
          .prop('hidden', false);
      }, tools.failure);
    }

    function load() {
      if (!panel.find('.dc-insights-fleet').val()) return panel.find('.dc-figure-note').first().text(t('noFleet'));
      loadReadiness(panel.find('.dc-insights-fleet').val());
      figures.forEach(function (figure) {
        $.ajax({ url: query(figure), dataType: 'json' }).then(function (answer) {
          draw(figure, answer);
        }, tools.failure);
      });
    }

    /** A figure's table: its columns in the reader's words, times in the reader's own. */
    function table(figure, answer) {
      var head =
        '<tr>' +
        answer.columns
          .map(function (column) {
            return '<th scope="col">' + esc(t(figure + '.columns.' + column)) + '</th>';
          })
          .join('') +
        '</tr>';
      var body = answer.rows
        .map(function (row) {
          var flagged = answer.columns[row.length - 1] === 'flagged' && row[row.length - 1] === 'true';
          return (
            (flagged ? '<tr class="dc-flagged">' : '<tr>') +
            row
              .map(function (value, i) {
                var column = answer.columns[i];
                var time = column === 'last_at' || column === 'at';
                var shown =
                  column === 'flagged'
                    ? value === 'true'
                      ? '\u26a0 ' + t(figure + '.flag')
                      : ''
                    : time
                      ? new Date(value).toLocaleString()
                      : value === null
                        ? ''
                        : value;
                return '<td>' + esc(shown) + '</td>';
              })
              .join('') +
            '</tr>'
          );
        })
        .join('');
      return '<thead>' + head + '</thead><tbody>' + body + '</tbody>';
    }

    function labels(figure, answer) {
      return answer.rows.map(function (row) {
        if (figure === 'states') return new Date(row[0]).toLocaleString(RED.i18n.lang(), { weekday: 'short', hour: '2-digit', minute: '2-digit' });
        if (figure === 'checkouts-by-hour') return String(row[0]).padStart(2, '0');
        return row[1] === null ? t('kept.longer', { from: row[0] }) : t('kept.bucket', { from: row[0], to: row[1] });
      });
    }

    function draw(figure, answer) {
      var section = panel.find('.dc-figure[data-figure="' + figure + '"]');
      section.find('.dc-figure-table').html(table(figure, answer));
      if (figure === 'states') return drawStates(section, answer);
      if (LISTS.indexOf(figure) >= 0) {
        var flagged = answer.rows.some(function (row) {
          return row[row.length - 1] === 'true';
        });
        return section.find('.dc-figure-note').text(answer.rows.length === 0 ? t(figure + '.none') : flagged ? t(figure + '.note') : '');
      }
      var total = answer.rows.reduce(function (sum, row) {
        return sum + Number(row[row.length - 1]);
      }, 0);
      section.find('.dc-figure-note').text(figure === 'kept' && answer.lendingHours ? t('kept.lending', { hours: answer.lendingHours }) : '');
      var values = answer.rows.map(function (row) {
        return row[row.length - 1];
      });
      // Phones kept past the lending period are what an admin looks for: the bars reaching past it coloured apart.
      var colours = answer.rows.map(function (row) {
        return figure === 'kept' && answer.lendingHours && (row[1] === null || row[1] > answer.lendingHours) ? PAST_LENDING : BAR;
      });
      var canvas = section.find('canvas');
      canvas.attr('aria-label', t(figure + '.summary', { total: total, range: t('ranges.' + answer.range) }));
      withChartJs(function (Chart) {
        if (charts[figure]) charts[figure].destroy();
        charts[figure] = new Chart(canvas[0], {
          type: 'bar',
          data: { labels: labels(figure, answer), datasets: [{ label: t(figure + '.axis'), data: values, backgroundColor: colours }] },
          options: {
            animation: false,
            maintainAspectRatio: false,
            locale: RED.i18n.lang(),
            plugins: { legend: { display: false } },
            scales: {
              x: { title: { display: true, text: t(figure + '.x') } },
              y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: t(figure + '.axis') } },
            },
          },
        });
        section[0].dataset.drawn = String(Date.now());
      });
    }

    /** Ready, out, failed and other phones over time, stacked: the whole fleet at each point. */
    function drawStates(section, answer) {
      var last = answer.rows[answer.rows.length - 1] || [];
      var states = answer.columns.slice(1);
      section.find('.dc-figure-note').text(t('states.note') + (panel.find('.dc-insights-cart').val() ? ' ' + t('states.wholeFleet') : ''));
      section
        .find('canvas')
        .attr('aria-label', t('states.summary', { ready: last[1], out: last[2], failed: last[3], other: last[4], range: t('ranges.' + answer.range) }));
      withChartJs(function (Chart) {
        if (charts.states) charts.states.destroy();
        charts.states = new Chart(section.find('canvas')[0], {
          type: 'line',
          data: {
            labels: labels('states', answer),
            datasets: states.map(function (state, i) {
              return {
                label: t('states.' + state),
                data: answer.rows.map(function (row) {
                  return row[i + 1];
                }),
                // Each area on the one below it: stacked, not overlapping.
                fill: i === 0 ? 'origin' : '-1',
                pointRadius: 0,
                borderColor: STATE_COLOURS[i],
                backgroundColor: STATE_COLOURS[i],
              };
            }),
          },
          options: {
            animation: false,
            maintainAspectRatio: false,
            locale: RED.i18n.lang(),
            plugins: { legend: { position: 'bottom', labels: { boxWidth: 10 } } },
            scales: {
              // A few times along the bottom, level: a sidebar is narrow.
              x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 4 } },
              y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: t('states.axis') } },
            },
          },
        });
        section[0].dataset.drawn = String(Date.now());
      });
    }

    function withChartJs(use) {
      if (chartJs) return chartJs.then(use);
      chartJs = $.ajax({ url: 'device-checkout/chart.js', dataType: 'script', cache: true }).then(function () {
        return window.Chart;
      }, tools.failure);
      chartJs.then(use);
    }

    panel.on('change', '.dc-insights-fleet', function () {
      fillCarts();
      load();
    });
    panel.on('change', '.dc-insights-cart, .dc-insights-range', load);
    panel.on('click', '.dc-figure-csv', function () {
      var figure = $(this).closest('.dc-figure').data('figure');
      tools.download(query(figure) + '&format=csv', 'device-checkout-' + figure + '.csv', 'text/csv');
    });

    return {
      /** Shown again: the fleets as the flows have them now, the figures as the trail has them now. */
      show: function () {
        fillFleets();
        load();
      },
    };
  };
})();
