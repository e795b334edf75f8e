// The cart's touch screen, in the browser of the cart host (inlined into its page by the
// runtime). It follows the cart over server-sent events (reconnecting by itself, a restart of
// Node-RED included), shows each view as text, beeps with Web Audio, and posts sign-ins and
// the PIN as JSON to its own address.
(function () {
  'use strict';
  var settings = JSON.parse(document.getElementById('settings').textContent);
  var lang = settings.lang || (/^de\b/i.test(navigator.language || '') ? 'de' : 'en-US');
  var texts = settings.texts[lang] || settings.texts['en-US'];
  document.documentElement.lang = lang;

  /** A text of the screen's catalog with its __placeholders__ filled in. */
  function say(path, values) {
    var text = path.split('.').reduce(function (node, part) {
      return node && node[part];
    }, texts);
    return String(text || '').replace(/__(\w+)__/g, function (_, name) {
      return values && values[name] !== undefined ? String(values[name]) : '';
    });
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  Array.prototype.forEach.call(document.querySelectorAll('[data-text]'), function (node) {
    node.textContent = say(node.getAttribute('data-text'));
  });
  document.getElementById('title').textContent = settings.title;

  // Beeps: short tones a person hears without looking (one accepted, two to four refused).
  var audio;
  function beep(count) {
    if (!settings.volume || !window.AudioContext) return;
    audio = audio || new AudioContext();
    if (audio.state === 'suspended') audio.resume();
    for (var i = 0; i < count; i++) {
      var start = audio.currentTime + 0.05 + i * 0.22;
      var tone = audio.createOscillator();
      var gain = audio.createGain();
      tone.frequency.value = count === 1 ? 1320 : 660;
      gain.gain.value = settings.volume;
      tone.connect(gain).connect(audio.destination);
      tone.start(start);
      tone.stop(start + 0.14);
    }
  }
  // A browser that waits for a touch before it plays sound gets one with the first touch.
  document.addEventListener('pointerdown', function () {
    if (audio && audio.state === 'suspended') audio.resume();
  });

  var view;
  var offset = 0; // the server's clock minus this one: countdowns run on the server's deadline

  function place(where) {
    if (!where || where.port === undefined) return '';
    return where.cart ? say('place-at-cart', where) : say('place', where);
  }

  /** Refusals in words, what to do included, never a code. */
  function refusal(state) {
    switch (state.code) {
      case 'NO_DEVICE_AVAILABLE':
        return say(state.charging ? 'refusals.charging' : 'refusals.empty');
      case 'USER_HAS_DEVICE':
        return state.held ? say('refusals.has-phone-at', { place: place(state.held) }) : say('refusals.has-phone');
      case 'BADGE_NOT_FOUND':
        return say('refusals.badge-unknown');
      case 'SIGN_IN_FAILED':
        return say('refusals.sign-in-failed');
      case 'SIGN_IN_LOCKED':
        return say('refusals.sign-in-locked', { minutes: state.minutes || 5 });
      case 'NOT_IN_GROUP':
        return say('refusals.not-in-group');
      case 'DIRECTORY_UNAVAILABLE':
        return say('refusals.directory-down');
      case 'BADGE_LOOKUP_FAILED':
        return say('refusals.badges-down');
      case 'CART_BUSY':
        return say('refusals.busy');
      case 'UNPLUG_TIMEOUT':
        return say('refusals.not-taken');
      case 'UNLOCK_FAILED':
        return say('refusals.no-unlock');
      default:
        return say('refusals.other');
    }
  }

  /** The hub's ports in a row, the one to take the phone from flashing. */
  function hubDrawing(state) {
    var count = state.port;
    view.ports.forEach(function (tile) {
      if (tile.hub === state.hub && tile.port > count) count = tile.port;
    });
    var row = element('div', 'hub');
    for (var port = 1; port <= count; port++) row.appendChild(element('span', port === state.port ? 'here' : '', String(port)));
    return row;
  }

  /** Sentences, smaller when long, so that they fit the screen whole. */
  function words(text) {
    return element('div', text.length > 120 ? 'words long' : 'words', text);
  }

  function signInButton() {
    var open = element('button', '', say('sign-in'));
    open.id = 'sign-in-open';
    open.addEventListener('click', showSignIn);
    return open;
  }

  var countdown;
  function renderState() {
    var state = view.state;
    var box = document.getElementById('state');
    box.textContent = '';
    box.className = state.kind;
    clearInterval(countdown);
    if (state.kind === 'idle') {
      box.appendChild(element('div', 'big', say('idle')));
      box.appendChild(signInButton());
    } else if (state.kind === 'welcome') {
      box.appendChild(element('div', 'mid', say('hello', { name: state.name })));
      box.appendChild(element('div', 'big', say('take', { port: state.port })));
      if (state.hub) box.appendChild(element('div', 'small', say('on-hub', { hub: state.hub })));
      if (state.port !== undefined) box.appendChild(hubDrawing(state));
      var left = element('div', 'countdown');
      var tick = function () {
        var seconds = Math.max(0, Math.ceil((Date.parse(state.deadline) - (Date.now() + offset)) / 1000));
        left.textContent = say('seconds-left', { seconds: seconds });
      };
      tick();
      countdown = setInterval(tick, 250);
      box.appendChild(left);
    } else if (state.kind === 'taken') {
      box.appendChild(element('div', 'big', say('taken')));
      box.appendChild(element('div', 'mid', say('good-shift', { name: state.name })));
    } else if (state.kind === 'refused') {
      if (state.name) box.appendChild(element('div', 'mid', state.name));
      box.appendChild(words(refusal(state)));
      // Refused: she may sign in (or again) at once, without waiting for the screen to clear.
      box.appendChild(signInButton());
    } else if (state.kind === 'message') {
      box.appendChild(words(state.text));
    }
  }

  /** The cart's docked phones, hub by hub (the port numbers repeat on every hub). */
  function renderPorts() {
    var ports = document.getElementById('ports');
    ports.textContent = '';
    var grid;
    var hub;
    view.ports.forEach(function (tile) {
      if (!grid || tile.hub !== hub) {
        hub = tile.hub;
        ports.appendChild(element('h2', '', hub));
        grid = ports.appendChild(element('div', 'grid'));
      }
      var kind = tile.ready
        ? 'ready'
        : tile.status === 'Checking Out'
          ? 'waiting'
          : tile.status === 'Failed'
            ? 'failed'
            : tile.status === 'Checked In'
              ? 'charging'
              : '';
      var box = element('div', 'tile ' + kind);
      box.appendChild(element('b', '', String(tile.port)));
      box.appendChild(element('div', 'who', tile.phone || ''));
      var line = tile.battery === undefined ? '' : tile.battery + ' %';
      box.appendChild(element('div', '', line));
      var what = tile.waitingFor
        ? say('waiting-for', { name: tile.waitingFor })
        : tile.ready
          ? say('ready')
          : (texts.statuses || {})[tile.status] || tile.status;
      box.appendChild(element('div', 'who', what));
      grid.appendChild(box);
    });
  }

  function showSignIn() {
    var form = document.getElementById('sign-in');
    form.hidden = false;
    document.getElementById('sign-in-problem').textContent = '';
    form.elements.user.focus();
  }
  function hideSignIn() {
    var form = document.getElementById('sign-in');
    form.reset();
    form.hidden = true;
  }
  document.getElementById('sign-in-cancel').addEventListener('click', hideSignIn);
  document.getElementById('sign-in').addEventListener('submit', function (event) {
    event.preventDefault();
    var form = event.target;
    var body = JSON.stringify({ user: form.elements.user.value, password: form.elements.password.value });
    form.elements.password.value = '';
    post('/sign-in', body).then(function (res) {
      if (res.ok) return hideSignIn();
      if (res.status === 401) return location.reload(); // the PIN is asked again
      document.getElementById('sign-in-problem').textContent = say('refusals.other');
    });
  });

  function post(path, body) {
    return fetch(settings.base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body, credentials: 'same-origin' }).catch(
      function () {
        return { ok: false, status: 0 };
      },
    );
  }

  function connect() {
    var events = new EventSource(settings.base + '/events');
    var offline = document.getElementById('offline');
    events.onopen = function () {
      offline.hidden = true;
    };
    events.onerror = function () {
      offline.textContent = say('offline');
      offline.hidden = false;
    };
    events.onmessage = function (event) {
      view = JSON.parse(event.data);
      offset = Date.parse(view.now) - Date.now();
      renderState();
      renderPorts();
      if (view.beeps) beep(view.beeps);
    };
  }

  function clock() {
    document.getElementById('clock').textContent = new Date().toLocaleTimeString(lang, { hour: '2-digit', minute: '2-digit' });
  }
  clock();
  setInterval(clock, 10000);

  if (settings.locked) {
    var pin = document.getElementById('pin');
    pin.hidden = false;
    pin.addEventListener('submit', function (event) {
      event.preventDefault();
      var body = JSON.stringify({ pin: pin.elements.pin.value });
      pin.elements.pin.value = '';
      post('/pin', body).then(function (res) {
        if (res.ok) return location.reload();
        document.getElementById('pin-problem').textContent = say(res.status === 429 ? 'pin-locked' : 'pin-wrong');
      });
    });
  } else {
    connect();
  }
})();
