// Vellum signing page: previews, the signature pad, the OTP step, and the
// calls to the signer JSON API. Served from this origin only (CSP
// script-src 'self'); the page has no inline script.
//
// CSRF: the signer API is authorised by the token in its path, not by a
// cookie, so a third-party page has no ambient credential to abuse. Even
// so, every call sends Content-Type: application/json: a cross-site HTML
// form can only send urlencoded, multipart or text/plain bodies, and a
// cross-site fetch with a JSON content type needs a CORS preflight, which
// the API never grants. The API refuses other content types.
'use strict';

(function () {
  var main = document.getElementById('main');
  var api = main && main.getAttribute('data-api');
  if (!api) {
    return; // a state page: nothing to drive
  }
  var $ = function (id) { return document.getElementById(id); };
  var flow = $('flow');

  // ---- Messages ------------------------------------------------------------
  // Every string the script shows comes from the server's catalogue, in the
  // page's language (data-messages, data-lang): none is written here.
  var messages = {};
  try { messages = JSON.parse(main.getAttribute('data-messages') || '{}'); } catch (e) { messages = {}; }
  var lang = main.getAttribute('data-lang') || 'en';
  function t(id, vars) {
    var msg = messages[id] || id;
    Object.keys(vars || {}).forEach(function (k) {
      msg = msg.split('{' + k + '}').join(String(vars[k]));
    });
    return msg;
  }
  // tn picks the plural form by the language's CLDR rule, as the server does.
  function tn(id, n) {
    var form = window.Intl && Intl.PluralRules ? new Intl.PluralRules(lang).select(n) : (n === 1 ? 'one' : 'other');
    var key = messages[id + '.' + form] ? id + '.' + form : id + '.other';
    return t(key, { n: window.Intl ? new Intl.NumberFormat(lang).format(n) : n });
  }

  // ---- Document previews -------------------------------------------------
  // Previews are inserted on demand so a phone does not fetch every PDF up
  // front.
  Array.prototype.forEach.call(document.querySelectorAll('[data-preview]'), function (btn) {
    btn.addEventListener('click', function () {
      var box = $(btn.getAttribute('aria-controls'));
      var open = btn.getAttribute('aria-expanded') === 'true';
      if (open) {
        box.hidden = true;
        btn.setAttribute('aria-expanded', 'false');
        btn.firstChild.nodeValue = t('js.preview');
        return;
      }
      if (!box.firstChild) {
        var frame = document.createElement('iframe');
        frame.src = btn.getAttribute('data-preview');
        frame.title = btn.getAttribute('data-title') || t('js.preview.title');
        frame.setAttribute('referrerpolicy', 'no-referrer');
        // aria-busy tells assistive technology the preview is still loading.
        box.setAttribute('aria-busy', 'true');
        frame.addEventListener('load', function () { box.setAttribute('aria-busy', 'false'); });
        box.appendChild(frame);
      }
      box.hidden = false;
      btn.setAttribute('aria-expanded', 'true');
      btn.firstChild.nodeValue = t('js.preview.hide');
    });
  });

  var signForm = $('sign-form');
  if (!signForm) {
    return; // a viewer's page: documents only
  }

  // ---- API calls -----------------------------------------------------------
  function idempotencyKey() {
    if (window.crypto && crypto.randomUUID) {
      return crypto.randomUUID();
    }
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
  }

  // post calls the signer API. It resolves with the JSON body on 2xx and
  // rejects with {status, code, detail} otherwise (status 0: no network).
  function post(path, body) {
    return fetch(api + path, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'Accept': 'application/json, application/problem+json',
        'Idempotency-Key': idempotencyKey()
      },
      body: JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
      redirect: 'error'
    }).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (res.ok) {
          return data || {};
        }
        throw {
          status: res.status,
          code: (data && data.code) || '',
          detail: (data && data.detail) || '',
          params: (data && data.invalidParams) || []
        };
      });
    }, function () {
      throw { status: 0, code: 'network', detail: '' };
    });
  }

  function busy(button, on, label) {
    button.disabled = on;
    button.setAttribute('aria-busy', on ? 'true' : 'false');
    if (label) {
      button.textContent = label;
    }
  }

  // ---- Error summary ---------------------------------------------------------
  // Errors are listed at the top of the form with links to the inputs, and
  // each input is marked aria-invalid; focus moves to the summary so screen
  // readers announce it.
  function showErrors(summary, errors) {
    Array.prototype.forEach.call(document.querySelectorAll('[aria-invalid="true"]'), function (el) {
      el.removeAttribute('aria-invalid');
    });
    var list = summary.querySelector('ul');
    list.textContent = '';
    if (!errors.length) {
      summary.hidden = true;
      return;
    }
    errors.forEach(function (e) {
      var li = document.createElement('li');
      if (e.field) {
        var a = document.createElement('a');
        a.href = '#' + e.field;
        a.textContent = e.message;
        a.addEventListener('click', function (ev) {
          ev.preventDefault();
          var el = $(e.field);
          if (el) { el.focus(); }
        });
        li.appendChild(a);
        var el = $(e.field);
        if (el) { el.setAttribute('aria-invalid', 'true'); }
      } else {
        li.textContent = e.message;
      }
      list.appendChild(li);
    });
    summary.hidden = false;
    summary.focus();
  }

  function problemMessage(err) {
    var detail = err.detail || '';
    if (err.status === 0) {
      return t('js.network');
    }
    if (err.status === 403) {
      // Wrong or expired one-time code or access code. The API's detail
      // counts the attempts ("(2 of 5 attempts used)").
      var msg = $('otp') ? t('js.code.wrong') : $('access-code') ? t('js.access.wrong') : t('js.auth.wrong');
      if ($('otp') && /request one|no valid code/i.test(detail)) {
        return t('js.code.expired');
      }
      var m = /\((\d+) of (\d+) attempts? used\)/.exec(detail);
      if (m) {
        var left = Number(m[2]) - Number(m[1]);
        msg += ' ' + tn('js.attempts', left);
      }
      return msg;
    }
    if (err.status === 429) {
      if ($('otp') && /code/i.test(detail)) {
        return t('js.code.toomany');
      }
      if ($('access-code') && /access code/i.test(detail)) {
        return t('js.access.toomany');
      }
      return t('js.toomany');
    }
    if (err.status >= 500) {
      return t('js.server');
    }
    return t('js.failed');
  }

  // ---- Signature pad ---------------------------------------------------------
  // Strokes are kept as points in CSS pixels so the canvas can be redrawn
  // when its size changes (rotation), and exported cropped at a fixed scale.
  var pad = (function () {
    var canvas = $('pad');
    if (!canvas) {
      return null;
    }
    var ctx = canvas.getContext('2d');
    var strokes = [];
    var current = null;
    var status = $('pad-status');
    var ink = '#14213d';
    var width = 2.5;

    function setupContext(c, scale) {
      c.setTransform(scale, 0, 0, scale, 0, 0);
      c.lineCap = 'round';
      c.lineJoin = 'round';
      c.lineWidth = width;
      c.strokeStyle = ink;
      c.fillStyle = ink;
    }

    function drawStroke(c, s, dx, dy) {
      if (s.length === 1) {
        c.beginPath();
        c.arc(s[0][0] - dx, s[0][1] - dy, width / 2, 0, Math.PI * 2);
        c.fill();
        return;
      }
      c.beginPath();
      c.moveTo(s[0][0] - dx, s[0][1] - dy);
      for (var i = 1; i < s.length; i++) {
        c.lineTo(s[i][0] - dx, s[i][1] - dy);
      }
      c.stroke();
    }

    function resize() {
      var r = canvas.getBoundingClientRect();
      if (!r.width) {
        return; // hidden
      }
      var dpr = Math.min(window.devicePixelRatio || 1, 3);
      canvas.width = Math.round(r.width * dpr);
      canvas.height = Math.round(r.height * dpr);
      setupContext(ctx, dpr);
      strokes.forEach(function (s) { drawStroke(ctx, s, 0, 0); });
    }

    function point(ev) {
      var r = canvas.getBoundingClientRect();
      return [ev.clientX - r.left, ev.clientY - r.top];
    }

    function announce() {
      status.textContent = strokes.length ? t('js.pad.drawn') : t('js.pad.empty');
    }

    canvas.addEventListener('pointerdown', function (ev) {
      if (ev.pointerType === 'mouse' && ev.button !== 0) {
        return;
      }
      ev.preventDefault();
      canvas.setPointerCapture(ev.pointerId);
      current = [point(ev)];
      strokes.push(current);
      drawStroke(ctx, current, 0, 0);
    });
    canvas.addEventListener('pointermove', function (ev) {
      if (!current) {
        return;
      }
      ev.preventDefault();
      var events = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [ev];
      if (!events.length) {
        events = [ev];
      }
      var last = current[current.length - 1];
      ctx.beginPath();
      ctx.moveTo(last[0], last[1]);
      events.forEach(function (e) {
        var p = point(e);
        current.push(p);
        ctx.lineTo(p[0], p[1]);
      });
      ctx.stroke();
    });
    function end() {
      if (current) {
        current = null;
        announce();
      }
    }
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
    window.addEventListener('resize', resize);

    $('pad-clear').addEventListener('click', function () {
      strokes = [];
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      announce();
    });

    return {
      resize: resize,
      empty: function () { return strokes.length === 0; },
      // png returns the signature cropped to its strokes, on a transparent
      // background, at twice CSS resolution (at most 1200 × 400 px).
      png: function () {
        var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
        strokes.forEach(function (s) {
          s.forEach(function (p) {
            minX = Math.min(minX, p[0]); minY = Math.min(minY, p[1]);
            maxX = Math.max(maxX, p[0]); maxY = Math.max(maxY, p[1]);
          });
        });
        var pad = width * 2;
        minX -= pad; minY -= pad; maxX += pad; maxY += pad;
        var w = maxX - minX, h = maxY - minY;
        var scale = Math.min(2, 1200 / w, 400 / h);
        var out = document.createElement('canvas');
        out.width = Math.max(1, Math.round(w * scale));
        out.height = Math.max(1, Math.round(h * scale));
        var c = out.getContext('2d');
        setupContext(c, scale);
        strokes.forEach(function (s) { drawStroke(c, s, minX, minY); });
        return out.toDataURL('image/png');
      }
    };
  }());

  // ---- Typed or drawn ----------------------------------------------------------
  var typed = $('typed-name');
  var typedPreview = $('typed-preview');
  function mode() {
    var checked = document.querySelector('input[name="sig-mode"]:checked');
    return checked ? checked.value : 'typed';
  }
  // The stamp writes a typed signature in the handwriting face when that
  // face has every character of it, else wholly in the serif italic
  // (pdffont.SignatureStack); the preview chooses the same way.
  var handwriting = (typedPreview && typedPreview.getAttribute('data-handwriting') || '').split(',').map(function (r) {
    var p = r.split('-');
    return [parseInt(p[0], 16), parseInt(p[1], 16)];
  });
  function inHandwriting(text) {
    for (var i = 0; i < text.length; i++) {
      var c = text.codePointAt(i);
      if (c > 0xffff) {
        i++;
      }
      if (c < 0x20 || (c >= 0x7f && c < 0xa0)) {
        continue;
      }
      var ok = handwriting.some(function (r) { return c >= r[0] && c <= r[1]; });
      if (!ok) {
        return false;
      }
    }
    return true;
  }
  if (typed) {
    typed.addEventListener('input', function () {
      typedPreview.textContent = typed.value;
      typedPreview.classList.toggle('serif', !inHandwriting(typed.value));
    });
    Array.prototype.forEach.call(document.querySelectorAll('input[name="sig-mode"]'), function (r) {
      r.addEventListener('change', function () {
        var drawn = mode() === 'drawn';
        $('sig-typed').hidden = drawn;
        $('sig-drawn').hidden = !drawn;
        if (drawn && pad) {
          pad.resize();
        }
      });
    });
  }

  // ---- One-time code ---------------------------------------------------------
  var otpSend = $('otp-send');
  var otpRequested = false;
  if (otpSend) {
    otpSend.addEventListener('click', function () {
      var st = $('otp-status');
      busy(otpSend, true, t('js.otp.sending'));
      st.classList.remove('is-error');
      st.textContent = '';
      post('/otp', {}).then(function () {
        otpRequested = true;
        busy(otpSend, false, t('js.otp.resend'));
        st.textContent = t('js.otp.sent');
        $('otp-entry').hidden = false;
        $('otp').focus();
      }, function (err) {
        busy(otpSend, false, otpRequested ? t('js.otp.resend') : t('js.otp.send'));
        if (err.status === 409 || err.status === 410) {
          location.reload();
          return;
        }
        st.classList.add('is-error');
        st.textContent = problemMessage(err);
      });
    });
  }

  // ---- Finishing ---------------------------------------------------------------
  // After acting, the signer goes to the envelope's redirect URL when it has
  // one (only http(s) URLs are ever rendered), else to the done panel.
  function finish(kind, response) {
    if (window.vellumEmbed) {
      window.vellumEmbed.post(kind);
    }
    var url = (response && (response.redirectUrl || response.redirectURL)) ||
      main.getAttribute(kind === 'signed' ? 'data-success-url' : 'data-cancel-url');
    if (url && !/^https?:\/\//i.test(url)) {
      url = null;
    }
    flow.hidden = true;
    var done = $('done-' + kind);
    done.hidden = false;
    document.title = $('done-' + kind + '-title').textContent + ' · Vellum';
    done.focus();
    window.scrollTo(0, 0);
    if (url) {
      $('done-' + kind + '-redirect').hidden = false;
      window.setTimeout(function () { location.assign(url); }, 1200);
    }
  }

  // embedError reports a refused call to the embedding window by the
  // problem's stable code (never its text, which may name the signer).
  function embedError(err) {
    if (window.vellumEmbed) {
      window.vellumEmbed.post('error', err.code || (err.status ? 'http_' + err.status : 'network'));
    }
  }

  // ---- Sign --------------------------------------------------------------------
  var signErrors = $('sign-errors');
  var signButton = $('sign-submit');
  var signLabel = signButton.textContent;

  function collectSign() {
    var errors = [];
    var body = { consent: false };
    var values = {};
    var haveValues = false;
    Array.prototype.forEach.call(signForm.querySelectorAll('[data-field-id]'), function (el) {
      var id = el.getAttribute('data-field-id');
      if (el.getAttribute('data-kind') === 'checkbox') {
        values[id] = el.checked ? 'true' : 'false';
        if (el.required && !el.checked) {
          errors.push({ field: el.id, message: t('js.err.tick', { label: labelOf(el) }) });
        }
      } else {
        values[id] = el.value.trim();
        if (el.required && !values[id]) {
          errors.push({ field: el.id, message: t('js.err.fill', { label: labelOf(el) }) });
        }
      }
      haveValues = true;
    });
    if (haveValues) {
      body.values = values;
    }
    if (typed) {
      if (mode() === 'drawn') {
        if (!pad || pad.empty()) {
          errors.push({ field: 'pad', message: t('js.err.draw') });
        } else {
          body.signature = { type: 'drawn', image: pad.png() };
        }
      } else if (!typed.value.trim()) {
        errors.push({ field: 'typed-name', message: t('js.err.type') });
      } else {
        body.signature = { type: 'typed', text: typed.value.trim() };
      }
    }
    var otp = $('otp');
    if (otp) {
      if (!otpRequested) {
        errors.push({ field: 'otp-send', message: t('js.err.otp.request') });
      } else if (!/^[0-9]{6}$/.test(otp.value.trim())) {
        errors.push({ field: 'otp', message: t('js.err.otp') });
      } else {
        body.otp = otp.value.trim();
      }
    }
    var oidc = $('oidc-step');
    if (oidc && oidc.getAttribute('data-oidc') === 'required') {
      errors.push({ field: 'oidc-login', message: t('js.err.oidc', { provider: oidc.getAttribute('data-provider') }) });
    }
    var access = $('access-code');
    if (access) {
      if (!access.value.trim()) {
        errors.push({ field: 'access-code', message: t('js.err.access') });
      } else {
        body.accessCode = access.value.trim();
      }
    }
    if (!$('consent').checked) {
      errors.push({ field: 'consent', message: t('js.err.consent') });
    } else {
      body.consent = true;
    }
    return { body: body, errors: errors };
  }

  function labelOf(el) {
    var l = signForm.querySelector('label[for="' + el.id + '"] .label-text');
    return l ? l.textContent.trim() : el.id;
  }

  // fieldFor points a problem at the input it is about, when it names one.
  function fieldFor(err) {
    var code = (err.code || '').toLowerCase();
    if (err.status === 403 || /otp|code|auth/.test(code)) {
      if ($('otp')) { return 'otp'; }
      if ($('access-code')) { return 'access-code'; }
      if ($('oidc-login')) { return 'oidc-login'; }
    }
    if (/consent/.test(code)) { return 'consent'; }
    if (/signature/.test(code)) { return mode() === 'drawn' ? 'pad' : 'typed-name'; }
    return null;
  }

  // paramError turns one of the API's invalidParams into a message linked
  // to the input it is about.
  function paramError(p) {
    var name = p.name || '';
    var field = null;
    var what = name;
    if (name.indexOf('values.') === 0) {
      field = 'field-' + name.slice(7);
      what = $(field) ? labelOf($(field)) : t('js.what.field');
    } else if (name.indexOf('signature') === 0) {
      field = mode() === 'drawn' ? 'pad' : 'typed-name';
      what = t('js.what.signature');
    } else if (name === 'consent') {
      field = 'consent';
      what = t('js.what.consent');
    } else if (name === 'otp' && $('otp')) {
      field = 'otp';
      what = t('js.what.otp');
    } else if (name === 'accessCode' && $('access-code')) {
      field = 'access-code';
      what = t('js.what.access');
    }
    if (field && !$(field)) {
      field = null;
    }
    return { field: field, message: t('js.err.param', { what: what, reason: p.reason }) };
  }

  signForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (signButton.disabled) {
      return;
    }
    var c = collectSign();
    showErrors(signErrors, c.errors);
    if (c.errors.length) {
      return;
    }
    busy(signButton, true, t('js.signing'));
    post('/sign', c.body).then(function (res) {
      finish('signed', res);
    }, function (err) {
      embedError(err);
      busy(signButton, false, signLabel);
      if (err.status === 409 || err.status === 410 || err.status === 404) {
        // Already signed, declined, expired or ended: show the state page.
        location.reload();
        return;
      }
      var errors = [];
      (err.params || []).forEach(function (p) {
        errors.push(paramError(p));
      });
      if (!errors.length) {
        errors.push({ field: fieldFor(err), message: problemMessage(err) });
      }
      showErrors(signErrors, errors);
    });
  });

  // ---- Decline -----------------------------------------------------------------
  var declineForm = $('decline-form');
  var declineErrors = $('decline-errors');
  var declineButton = $('decline-submit');
  var declineLabel = declineButton.textContent;

  $('decline-open').addEventListener('click', function () {
    signForm.hidden = true;
    declineForm.hidden = false;
    $('decline-reason').focus();
  });
  $('decline-back').addEventListener('click', function () {
    declineForm.hidden = true;
    signForm.hidden = false;
    $('decline-open').focus();
  });
  declineForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (declineButton.disabled) {
      return;
    }
    var reason = $('decline-reason').value.trim();
    if (!reason) {
      showErrors(declineErrors, [{ field: 'decline-reason', message: t('js.err.decline') }]);
      return;
    }
    showErrors(declineErrors, []);
    busy(declineButton, true, t('js.declining'));
    post('/decline', { reason: reason }).then(function (res) {
      finish('declined', res);
    }, function (err) {
      embedError(err);
      busy(declineButton, false, declineLabel);
      if (err.status === 409 || err.status === 410 || err.status === 404) {
        location.reload();
        return;
      }
      showErrors(declineErrors, [{ field: null, message: problemMessage(err) }]);
    });
  });
}());
