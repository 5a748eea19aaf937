// Certificate portal: log in, log out, make a certificate primary, link one.
// Served from this origin only (CSP script-src 'self'); no inline script.
//
// CSRF: the session cookie is SameSite=Lax, every state-changing call sends
// the XSRF-TOKEN cookie's value in X-XSRF-TOKEN (the API refuses it
// otherwise), and every call is JSON: a cross-site form cannot send JSON,
// and a cross-site fetch with it needs a CORS preflight the API never grants.
'use strict';

(function () {
  var $ = function (id) { return document.getElementById(id); };

  function xsrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)XSRF-TOKEN=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : '';
  }

  // api calls the Signex API and resolves with the JSON answer, or rejects
  // with an Error whose message is the problem's detail.
  function api(method, path, body) {
    var headers = { 'Accept': 'application/json', 'X-XSRF-TOKEN': xsrfToken() };
    var init = { method: method, credentials: 'same-origin', headers: headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (res) {
      if (res.status === 204) {
        return null;
      }
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) {
          var err = new Error(message(res.status, data));
          err.status = res.status;
          throw err;
        }
        return data;
      });
    });
  }

  function message(status, problem) {
    if (status === 401 && problem.code === 'invalid_credentials') {
      return 'The e-mail address or password is wrong.';
    }
    if (status === 401) {
      return 'Your session has ended. Please log in again.';
    }
    if (status === 429) {
      return 'Too many attempts. Please wait a moment and try again.';
    }
    if (problem.invalidParams && problem.invalidParams.length) {
      return problem.invalidParams.map(function (p) { return p.name + ': ' + p.reason; }).join('\n');
    }
    return problem.detail || 'Something went wrong (' + status + '). Please try again.';
  }

  function showError(box, text) {
    box.textContent = text;
    box.hidden = false;
    box.focus();
  }

  // ---- Log in ---------------------------------------------------------------
  var login = $('login-form');
  if (login) {
    login.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var email = $('email').value.trim();
      var password = $('password').value;
      if (!email || !password) {
        showError($('login-error'), 'Enter your e-mail address and password.');
        return;
      }
      $('login-submit').disabled = true;
      api('POST', '/api/auth/login', { email: email, password: password }).then(function () {
        var next = login.getAttribute('data-next') || '/portal';
        window.location.assign(next.charAt(0) === '/' ? next : '/portal');
      }, function (err) {
        $('login-submit').disabled = false;
        showError($('login-error'), err.message);
      });
    });
  }

  // ---- Log out --------------------------------------------------------------
  var logout = $('logout');
  if (logout) {
    logout.addEventListener('click', function () {
      api('POST', '/api/auth/logout').then(function () {
        window.location.assign('/portal');
      }, function () {
        window.location.assign('/portal');
      });
    });
  }

  // ---- Make primary ---------------------------------------------------------
  Array.prototype.forEach.call(document.querySelectorAll('[data-make-primary]'), function (btn) {
    btn.addEventListener('click', function () {
      btn.disabled = true;
      var status = $('status');
      api('POST', '/api/cert/' + encodeURIComponent(btn.getAttribute('data-make-primary')) + '/primary').then(function () {
        window.location.reload();
      }, function (err) {
        btn.disabled = false;
        if (status) {
          status.textContent = err.message;
        }
      });
    });
  });

  // ---- Link a certificate ---------------------------------------------------
  var linkForm = $('link-form');
  if (linkForm) {
    $('link-challenge').addEventListener('click', function () {
      api('POST', '/api/cert/link/challenge').then(function (ch) {
        $('challenge').value = ch.challenge;
        $('challenge-box').hidden = false;
        $('challenge').focus();
      }, function (err) {
        showError($('link-error'), err.message);
      });
    });
    linkForm.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var body = {
        certificate: $('link-certificate').value.trim(),
        challenge: $('challenge').value,
        signature: $('link-signature').value.replace(/\s+/g, '')
      };
      if (!body.certificate || !body.challenge || !body.signature) {
        showError($('link-error'), 'Paste the certificate, get a challenge and paste its signature.');
        return;
      }
      $('link-submit').disabled = true;
      api('POST', '/api/cert/link', body).then(function () {
        window.location.reload();
      }, function (err) {
        $('link-submit').disabled = false;
        showError($('link-error'), err.message);
      });
    });
  }
})();
